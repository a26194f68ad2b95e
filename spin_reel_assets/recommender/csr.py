"""Lookups in CSR matrices of (row, item) pairs, without densifying them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def rows_contain(matrix: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """Whether row r of ``matrix`` stores ``items[r, j]`` (False for negative padding), as an array shaped like
    ``items``. The matrix needs sorted indices per row: one binary search over row-major (row, item) keys."""
    n_rows, width = matrix.shape
    items = np.asarray(items, dtype=np.int64)
    keys = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(matrix.indptr)) * width + matrix.indices
    if len(keys) == 0:
        return np.zeros(items.shape, dtype=bool)
    wanted = np.arange(n_rows, dtype=np.int64)[:, None] * width + items
    found = keys[np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)] == wanted
    # -1 padding would alias the previous row's last item, hence the explicit check.
    return found & (items >= 0)
