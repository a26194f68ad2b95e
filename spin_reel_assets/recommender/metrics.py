"""Ranking and rating metrics with the Microsoft Recommenders definitions, vectorized over all users.

Ranking metrics take the top-k lists as an int array ``recommended`` (n_users × ≥k item indices, best first, -1
for "no item") and the relevant items as a CSR matrix (n_users × n_items) whose stored nonzeros are the relevant
(test) items. Relevance is binary. Each metric is averaged over the users that have at least one relevant item;
such a user with an empty or short list simply scores its hits (0 when it has no recommendations at all).
A list narrower than k counts as padded with -1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .csr import rows_contain


def precision_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of (hits in the top k) / k."""
    hits, n_relevant = _hits(recommended, relevant, k)
    evaluated = n_relevant > 0
    return _mean(hits[evaluated].sum(axis=1) / k)


def recall_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of (hits in the top k) / (number of relevant items)."""
    hits, n_relevant = _hits(recommended, relevant, k)
    evaluated = n_relevant > 0
    return _mean(hits[evaluated].sum(axis=1) / n_relevant[evaluated])


def ndcg_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of DCG@k / IDCG@k, with gain 1 / log2(rank + 1) and the ideal list of min(k, |rel|) hits."""
    hits, n_relevant = _hits(recommended, relevant, k)
    evaluated = n_relevant > 0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits[evaluated] @ discounts
    # IDCG: the first min(k, |rel|) discounts, i.e. the cumulative discount at that count.
    ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(n_relevant[evaluated], k)]
    return _mean(dcg / ideal)


def map_at_k(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean over users of (sum of precision@i at each hit rank i ≤ k) / min(k, |rel|)."""
    hits, n_relevant = _hits(recommended, relevant, k)
    evaluated = n_relevant > 0
    hits = hits[evaluated]
    precision_at_hit = np.cumsum(hits, axis=1) / np.arange(1, k + 1) * hits
    return _mean(precision_at_hit.sum(axis=1) / np.minimum(n_relevant[evaluated], k))


def catalogue_coverage(recommended: np.ndarray, n_items: int, k: int = 10) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    items = np.asarray(recommended)[:, :k]
    shown = np.zeros(n_items, dtype=bool)
    shown[items[items >= 0]] = True
    return float(shown.sum() / n_items) if n_items else float("nan")


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error over the rows with a prediction (NaN predictions are skipped); NaN if none."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    scored = ~np.isnan(predicted)
    if not scored.any():
        return float("nan")
    return float(np.sqrt(np.mean((predicted[scored] - actual[scored]) ** 2)))


def ranking_report(recommended: np.ndarray, relevant: sp.csr_matrix, n_items: int, k: int = 10) -> dict[str, float]:
    """All ranking metrics at k plus catalogue coverage, keyed ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``,
    ``coverage``."""
    return {
        f"precision@{k}": precision_at_k(recommended, relevant, k),
        f"recall@{k}": recall_at_k(recommended, relevant, k),
        f"ndcg@{k}": ndcg_at_k(recommended, relevant, k),
        f"map@{k}": map_at_k(recommended, relevant, k),
        "coverage": catalogue_coverage(recommended, n_items, k),
    }


def _hits(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_users × k) float hit matrix of the top-k lists, and the number of relevant items per user."""
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    relevant = sp.csr_matrix(relevant, copy=True)
    relevant.eliminate_zeros()
    relevant.sum_duplicates()  # also sorts each row's indices, as rows_contain needs
    n_users = relevant.shape[0]
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2 or recommended.shape[0] != n_users:
        raise ValueError(f"recommended has shape {recommended.shape}, expected ({n_users}, k)")
    top = np.full((n_users, k), -1, dtype=np.int64)
    top[:, : min(k, recommended.shape[1])] = recommended[:, :k]

    return rows_contain(relevant, top).astype(np.float64), np.diff(relevant.indptr)


def _mean(per_user: np.ndarray) -> float:
    return float(per_user.mean()) if len(per_user) else float("nan")
