"""Offline evaluation of the four recommenders on one split, and the blend-weight search.

Plain functions over index arrays and factor matrices; fitting ALS is the caller's (Spark) business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from spin_reel_assets.recommender import hybrid, metrics
from spin_reel_assets.recommender.blend import choose_weight

RECOMMENDERS = ("popularity", "als", "content", "hybrid")


@dataclass
class Interactions:
    """Ratings in index space: users[i] rated items[i] with ratings[i]; ``n_users`` × ``n_items``."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    n_users: int
    n_items: int

    def matrix(self, mask: np.ndarray | None = None) -> sp.csr_matrix:
        users, items, ratings = (self.users, self.items, self.ratings) if mask is None else (
            self.users[mask], self.items[mask], self.ratings[mask])
        return sp.csr_matrix((ratings.astype(np.float32), (users, items)), shape=(self.n_users, self.n_items))

    def subset(self, mask: np.ndarray) -> "Interactions":
        return Interactions(self.users[mask], self.items[mask], self.ratings[mask], self.n_users, self.n_items)


def index_ratings(user_ids: np.ndarray, movie_ids: np.ndarray, ratings: np.ndarray, item_ids: np.ndarray):
    """Map raw ids to indices: users to their sorted unique ids, movies to positions in ``item_ids`` (sorted).

    Ratings of movies outside ``item_ids`` (not in the collection) are left out; the mask of kept input rows is
    returned with the interactions.
    """
    users, user_index = np.unique(user_ids, return_inverse=True)
    position = np.clip(np.searchsorted(item_ids, movie_ids), 0, max(len(item_ids) - 1, 0))
    known = item_ids[position] == movie_ids
    interactions = Interactions(
        user_index[known].astype(np.int64), position[known].astype(np.int64), ratings[known].astype(np.float32),
        len(users), len(item_ids),
    )
    return users, interactions, known


def hybrid_top_k(train: sp.csr_matrix, user_factors, item_factors, content_vectors, weight: float, k: int,
                 users: np.ndarray | None = None) -> np.ndarray:
    """Top-k item indices (users × k, -1 padded) of the blend for ``users`` (all by default), seen items excluded."""
    users = np.arange(train.shape[0]) if users is None else users
    rated = train[users]
    profiles = hybrid.content_profiles(rated, content_vectors)
    recs = hybrid.recommend_users(user_factors[users], item_factors, profiles, content_vectors, rated, weight, n=k)
    return hybrid.to_matrix(recs["user"], recs["item"], len(users), k)


def search_weight(train: sp.csr_matrix, valid: sp.csr_matrix, user_factors, item_factors, content_vectors,
                  k: int = 10, max_users: int = 5000, seed: int = 42) -> tuple[float, dict[float, float]]:
    """The ALS share of the blend with the best nDCG@k on ``valid``, from factors fitted without ``valid``
    (items without factors get them imputed from content, as in the hybrid).

    Scored on at most ``max_users`` users with validation ratings, so the search stays cheap at scale.
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    truth = valid[users]
    item_factors = hybrid.impute_item_factors(item_factors, content_vectors)[0]

    def ndcg(weight: float) -> float:
        top = hybrid_top_k(train, user_factors, item_factors, content_vectors, weight, k, users)
        return metrics.ndcg_at_k(top, truth, k)

    return choose_weight(ndcg)


def evaluate(train: sp.csr_matrix, test: sp.csr_matrix, user_factors, item_factors, content_vectors,
             weight: float, k: int = 10) -> dict[str, dict[str, float]]:
    """Precision/recall/nDCG/MAP@k and coverage of popularity, ALS alone, content alone and the hybrid on ``test``.

    ALS alone uses the fitted factors only; the hybrid also imputes factors for items without any from content.
    """
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    truth = test[users]
    n_items = train.shape[1]
    popular = hybrid.recommend_popular(train[users], hybrid.popularity_scores(train), k)
    top = {
        "popularity": popular,
        "als": hybrid_top_k(train, user_factors, item_factors, content_vectors, 1.0, k, users),
        "content": hybrid_top_k(train, user_factors, item_factors, content_vectors, 0.0, k, users),
        "hybrid": hybrid_top_k(train, user_factors, hybrid.impute_item_factors(item_factors, content_vectors)[0],
                               content_vectors, weight, k, users),
    }
    return {name: metrics.ranking_report(top[name], truth, n_items, k) for name in RECOMMENDERS}


def markdown_table(report: dict[str, dict[str, float]], extra: dict[str, dict[str, float]] | None = None) -> str:
    rows = {**report, **(extra or {})}
    columns = sorted({key for values in rows.values() for key in values}, key=_column_order)
    lines = ["| recommender | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(values.get(column)) for column in columns) + " |")
    return "\n".join(lines)


def _column_order(name: str) -> tuple[int, str]:
    order = ("precision", "recall", "ndcg", "map", "coverage", "rmse")
    return next((i for i, prefix in enumerate(order) if name.startswith(prefix)), len(order)), name


def _fmt(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.4f}"
