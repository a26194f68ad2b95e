"""Ranking and rating metrics with the Microsoft Recommenders definitions, vectorized over all users.

Ranking metrics take the top-k lists as an int array ``recommended`` (n_users × ≥k item indices, best first, -1
for "no item") and the relevant items as a CSR matrix (n_users × n_items) whose stored nonzeros are the relevant
(test) items. Relevance is binary. Each metric is averaged over the users that have at least one relevant item;
such a user with an empty or short list simply scores its hits (0 when it has no recommendations at all).
A list narrower than k counts as padded with -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from spin_reel_assets.schema import DEFAULT_SEED

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
    per_user = user_ndcg(recommended, relevant, k)
    return _mean(per_user[~np.isnan(per_user)])


def user_ndcg(recommended: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """Each user's DCG@k / IDCG@k (``ndcg_at_k`` is their mean); NaN for users without relevant items."""
    hits, n_relevant = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    # IDCG: the first min(k, |rel|) discounts, i.e. the cumulative discount at that count.
    ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(n_relevant, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, (hits @ discounts) / ideal, np.nan)


def ratio_interval(candidate: np.ndarray, baselines: Sequence[np.ndarray], level: float = 0.9,
                   resamples: int = 2000, seed: int = DEFAULT_SEED, block: int = 200) -> tuple[float, float, float]:
    """How a recommender compares with the better of some baselines on the same users: mean(candidate) / the
    largest baseline mean, from per-user scores (``user_ndcg``; NaN: user not evaluated, left out), and the
    ``level`` percentile bootstrap interval of that ratio (users resampled with replacement, the same draw for
    every recommender, the better baseline taken per draw). Returns (ratio, low, high); NaN without users.

    A segment of a few dozen users moves by a large fraction with one hit: the interval says whether a ratio
    measures the recommenders or the draw of users. Draws are made ``block`` resamples at a time."""
    valid = ~np.isnan(candidate)
    ours = np.asarray(candidate, dtype=np.float64)[valid]
    theirs = np.stack([np.asarray(b, dtype=np.float64)[valid] for b in baselines])
    n = len(ours)
    if n == 0 or not theirs.mean(axis=1).max() > 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    ratios = []
    for start in range(0, resamples, block):
        draws = rng.integers(0, n, size=(min(block, resamples - start), n))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(ours[draws].mean(axis=1) / theirs[:, draws].mean(axis=2).max(axis=0))
    low, high = np.nanpercentile(np.concatenate(ratios), [50 * (1 - level), 50 * (1 + level)])
    return float(ours.mean() / theirs.mean(axis=1).max()), float(low), float(high)


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


# Users by number of training ratings: (label, fewest, most); the last segment is open-ended.
USER_SEGMENTS = (("1-5", 1, 5), ("6-20", 6, 20), ("21-100", 21, 100), (">100", 101, None))


def user_segment(n_train: np.ndarray, segments=USER_SEGMENTS) -> np.ndarray:
    """Index into ``segments`` of each user's training-rating count (0 ratings counts as the first segment)."""
    upper = [most for _, _, most in segments[:-1]]
    return np.searchsorted(np.asarray(upper), np.asarray(n_train), side="left")


def segment_report(recommended: np.ndarray, relevant: sp.csr_matrix, n_train: np.ndarray, cold_items: np.ndarray,
                   k: int = 10, segments=USER_SEGMENTS) -> dict[str, float]:
    """``ranking_report`` over all users plus, per user segment (by ``n_train``, each user's number of training
    ratings), its nDCG@k and user count, and the hits on cold items (``cold_items``: boolean per item, no
    training rating) vs warm ones.

    Keys: ``ndcg@k users <label>``, ``users <label>`` (users with relevant items), ``cold hits@k`` and ``warm
    hits@k`` (relevant (user, item) pairs in the top k), ``cold recall@k`` (cold hits / cold relevant pairs),
    ``cold shown@k`` (top-k slots holding a cold item). A segment without users reports NaN.
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    report = ranking_report(recommended, relevant, relevant.shape[1], k)
    hits, n_relevant = _hits(recommended, relevant, k)
    evaluated = n_relevant > 0
    segment = user_segment(n_train, segments)
    for index, (label, _, _) in enumerate(segments):
        rows = np.flatnonzero(segment == index)
        report[f"ndcg@{k} users {label}"] = ndcg_at_k(recommended[rows], relevant[rows], k) if len(rows) else float("nan")
        report[f"users {label}"] = float(np.count_nonzero(evaluated[rows]))
    top = np.full((len(recommended), k), -1, dtype=np.int64)
    top[:, : min(k, recommended.shape[1])] = recommended[:, :k]
    cold = np.asarray(cold_items, dtype=bool)
    on_cold = (top >= 0) & cold[np.maximum(top, 0)]
    hit = hits.astype(bool) & evaluated[:, None]
    relevant_cold = int(cold[sp.csr_matrix(relevant).indices].sum())
    report[f"cold hits@{k}"] = float(np.count_nonzero(hit & on_cold))
    report[f"warm hits@{k}"] = float(np.count_nonzero(hit & ~on_cold))
    report[f"cold recall@{k}"] = report[f"cold hits@{k}"] / relevant_cold if relevant_cold else float("nan")
    report[f"cold shown@{k}"] = float(np.count_nonzero(on_cold))
    return report
