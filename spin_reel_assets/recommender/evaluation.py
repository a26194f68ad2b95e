"""Offline evaluation of the four recommenders on one split, and the blend-weight search.

Plain functions over index arrays and factor matrices; fitting ALS is the caller's (Spark) business.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import scipy.sparse as sp

from spin_reel_assets.recommender import hybrid, metrics
from spin_reel_assets.recommender.blend import choose_weight
from spin_reel_assets.schema import DEFAULT_CANDIDATES

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


@dataclass
class Scorer:
    """What every ranking of one evaluation shares: the train ratings, the fitted factors (NaN rows for items no
    one rated in train), their content-imputed completion, the content vectors and their index (rows are items).

    The candidates of a group of users, with both signals, are computed once and re-ranked for every weight: the
    candidate set does not depend on the weight, and ALS alone differs only in leaving imputed items unscored.
    """

    train: sp.csr_matrix
    user_factors: np.ndarray
    item_factors: np.ndarray
    content_vectors: np.ndarray
    content_index: faiss.Index
    candidates: int = DEFAULT_CANDIDATES
    impute: bool = True  # False for a model that is only ever ranked alone: its items without factors stay unscored

    def __post_init__(self):
        self.fitted = np.flatnonzero(~np.isnan(self.item_factors).any(axis=1))
        if self.impute:
            self.completed, self.imputed = hybrid.impute_item_factors(self.item_factors, self.content_vectors)
        else:
            self.completed, self.imputed = self.item_factors, np.zeros(len(self.item_factors), dtype=bool)
        self._cache: tuple[np.ndarray, list] | None = None

    def _blocks(self, users: np.ndarray) -> list:
        if self._cache is None or not np.array_equal(self._cache[0], users):
            rated = self.train[users]
            blocks = list(hybrid.user_candidates(
                self.user_factors[users], self.completed, hybrid.content_profiles(rated, self.content_vectors),
                self.content_vectors, rated, self.candidates, self.content_index, self.fitted,
            ))
            self._cache = (users, blocks)
        return self._cache[1]

    def top_k(self, weight: float, k: int, users: np.ndarray, imputed: bool = True) -> np.ndarray:
        """Top-k item indices (users × k, -1 padded) of the blend for ``users``, seen items excluded; ALS alone
        (weight 1, ``imputed=False``) leaves items without fitted factors unscored by ALS."""
        parts = []
        for block, candidate, als, content in self._blocks(users):
            if not imputed:
                als = np.where(self.imputed[np.maximum(candidate, 0)] & (als > -np.inf), np.nan, als)
            parts.append(hybrid.rank_candidates(block, candidate, als, content, weight, k))
        if not parts:
            return np.full((0, k), -1, dtype=np.int64)
        return hybrid.to_matrix(np.concatenate([p["user"] for p in parts]), np.concatenate([p["item"] for p in parts]),
                                len(users), k)


def split_users(test: sp.csr_matrix, tuning_fraction: float, max_tuning: int, max_evaluation: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Users with test ratings, in two disjoint seeded groups: the tuning users (``tuning_fraction`` of them, at
    most ``max_tuning``) choose the blend weight, the evaluation users (the rest, at most ``max_evaluation``)
    measure the recommenders. The caps make both a seeded sample at scale."""
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    shuffled = np.random.default_rng(seed).permutation(users)
    n_tuning = int(round(tuning_fraction * len(users)))
    return np.sort(shuffled[:n_tuning][:max_tuning]), np.sort(shuffled[n_tuning:][:max_evaluation])


def search_weight(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, k: int = 10) -> tuple[float, dict[float, float]]:
    """The ALS share of the blend with the best nDCG@k on the held-out ratings of ``users``."""
    truth = test[users]
    return choose_weight(lambda weight: metrics.ndcg_at_k(scorer.top_k(weight, k, users), truth, k))


def evaluate(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, weight: float,
             k: int = 10) -> dict[str, dict[str, float]]:
    """Precision/recall/nDCG/MAP@k and coverage of popularity, ALS alone, content alone and the hybrid on the
    held-out ratings of ``users``. ALS alone uses the fitted factors only; the hybrid also the imputed ones."""
    truth = test[users]
    train = scorer.train
    top = {
        "popularity": hybrid.recommend_popular(train[users], hybrid.popularity_scores(train), k),
        "als": scorer.top_k(1.0, k, users, imputed=False),
        "content": scorer.top_k(0.0, k, users),
        "hybrid": scorer.top_k(weight, k, users),
    }
    return {name: metrics.ranking_report(top[name], truth, train.shape[1], k) for name in RECOMMENDERS}


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
