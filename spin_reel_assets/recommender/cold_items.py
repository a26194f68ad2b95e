"""ALS factors for movies nobody rated, from their content: a ridge map fitted on the rated movies.

The alternative, ``hybrid.impute_item_factors``, averages the factors of a cold movie's 20 nearest content
neighbours; a linear map from content vectors to factors uses every rated movie at once and no neighbour search.
``blend_weights`` chooses between the two on tuning users and ``recommendation_quality`` reports both on the
cold-item segment. Memory: the normal equations are d × d (content dimension) and d × rank, whatever the
catalogue size.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from .content import build_index, ivf_index, search


@dataclass(frozen=True)
class ContentToFactors:
    """A fitted map ``factors ≈ vectors @ coef + intercept`` from content vectors to ALS item factors."""

    coef: np.ndarray
    intercept: np.ndarray

    def predict(self, vectors: np.ndarray, block_size: int = 262_144) -> np.ndarray:
        vectors = np.asarray(vectors, dtype=np.float32)
        out = np.empty((len(vectors), self.coef.shape[1]), dtype=np.float32)
        for start in range(0, len(vectors), block_size):
            out[start : start + block_size] = vectors[start : start + block_size] @ self.coef + self.intercept
        return out


def fit_content_to_factors(content_vectors: np.ndarray, item_factors: np.ndarray, fitted: np.ndarray,
                           regularization: float = 0.01, block_size: int = 262_144) -> ContentToFactors:
    """Ridge regression of the fitted items' factors on their content vectors (centred, so the intercept is the
    mean factor): (XᵀX + λ·n·I) W = XᵀY, λ = ``regularization`` per item, accumulated in blocks of items."""
    fitted = np.asarray(fitted, dtype=np.int64)
    if len(fitted) == 0:
        raise ValueError("no item has fitted factors: nothing to learn the content → factor map from")
    d, rank = content_vectors.shape[1], item_factors.shape[1]
    x_mean = np.zeros(d)
    y_mean = np.zeros(rank)
    for start in range(0, len(fitted), block_size):
        rows = fitted[start : start + block_size]
        x_mean += content_vectors[rows].sum(axis=0, dtype=np.float64)
        y_mean += item_factors[rows].sum(axis=0, dtype=np.float64)
    x_mean /= len(fitted)
    y_mean /= len(fitted)
    xtx = np.zeros((d, d))
    xty = np.zeros((d, rank))
    for start in range(0, len(fitted), block_size):
        rows = fitted[start : start + block_size]
        x = content_vectors[rows].astype(np.float64) - x_mean
        xtx += x.T @ x
        xty += x.T @ (item_factors[rows].astype(np.float64) - y_mean)
    coef = np.linalg.solve(xtx + regularization * len(fitted) * np.eye(d), xty)
    intercept = y_mean - x_mean @ coef
    return ContentToFactors(coef.astype(np.float32), intercept.astype(np.float32))


def complete_item_factors(item_factors: np.ndarray, content_vectors: np.ndarray,
                          regularization: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Factors for items without any: the ridge map's prediction from their content vectors; items with no
    content (zero vector) keep NaN. Returns the completed factors and the mask of predicted rows, like
    ``hybrid.impute_item_factors``."""
    item_factors = np.asarray(item_factors, dtype=np.float32)
    content_vectors = np.asarray(content_vectors, dtype=np.float32)
    cold = np.isnan(item_factors).any(axis=1)
    completed = item_factors.copy()
    if not cold.any() or cold.all():
        return completed, np.zeros(len(item_factors), dtype=bool)
    mapping = fit_content_to_factors(content_vectors, item_factors, np.flatnonzero(~cold), regularization)
    predicted = cold & (np.abs(content_vectors).sum(axis=1) > 0)
    completed[predicted] = mapping.predict(content_vectors[predicted])
    return completed, predicted


def cold_candidates(profiles: np.ndarray, content_vectors: np.ndarray, cold: np.ndarray, m: int = 50,
                    exact_max: int = 50_000, content_index: faiss.Index | None = None) -> np.ndarray:
    """Each profile's ``m`` nearest items among the ``cold`` ones (boolean per item: no fitted factors), as item
    indices (n_profiles × m, -1 padded): the hybrid's candidates from the movies nobody rated, which the ALS scan
    never proposes and a content search over the whole catalogue rarely reaches. Exact up to ``exact_max`` cold
    items; above, ``content_index`` (rows are items, e.g. the faiss_index asset's IVF) searched with only the
    cold items selected when they are at least half of it, else an IVF index over the cold items."""
    cold_items = np.flatnonzero(cold)
    out = np.full((len(profiles), m), -1, dtype=np.int64)
    if len(cold_items) == 0 or m == 0:
        return out
    k = min(m, len(cold_items))
    if len(cold_items) > exact_max and content_index is not None and content_index.ntotal == len(cold) \
            and 2 * len(cold_items) >= len(cold):
        # No index to build: an IVF over a TMDB-sized cold catalogue took 1–2 minutes to train, once per scorer.
        out[:, :k] = _search_selected(content_index, profiles, k, cold)
        return out
    vectors = np.ascontiguousarray(content_vectors[cold_items], dtype=np.float32)
    index = build_index(vectors, exact_max=len(vectors)) if len(vectors) <= exact_max else ivf_index(vectors)
    _, found = search(index, profiles, k)
    out[:, :k] = np.where(found >= 0, cold_items[np.maximum(found, 0)], -1)
    return out


def _search_selected(index: faiss.Index, queries: np.ndarray, k: int, selected: np.ndarray) -> np.ndarray:
    """``content.search`` among the rows of ``index`` where ``selected`` (boolean per row) is true: the indices."""
    bitmap = np.packbits(selected, bitorder="little")  # faiss: row i is selected by bit i % 8 of byte i // 8
    selector = faiss.IDSelectorBitmap(len(selected), faiss.swig_ptr(bitmap))
    # faiss's IVF parameters default to nprobe 1: keep the index's own.
    params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe) \
        if isinstance(index, faiss.IndexIVF) else faiss.SearchParameters(sel=selector)
    return search(index, queries, k, params=params)[1]
