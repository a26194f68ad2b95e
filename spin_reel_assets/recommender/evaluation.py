"""Offline evaluation of the four recommenders on one split, and the blend-weight search.

Plain functions over index arrays and factor matrices; fitting ALS is the caller's (Spark) business.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import scipy.sparse as sp

from spin_reel_assets.recommender import cold_items, hybrid, metrics
from spin_reel_assets.recommender.blend import (SCHEDULE_GRID, BlendWeights, Blender, PriorSpec, RatingClock,
                                                ScaledRows, WeightSchedule, choose_blend_weights, choose_schedule,
                                                choose_weight, popularity_prior, simplex_grid)
from spin_reel_assets.schema import DEFAULT_CANDIDATES



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


def align_rows(ids: np.ndarray, matrix: np.ndarray, target_ids: np.ndarray) -> np.ndarray:
    """Rows of ``matrix`` (row i belongs to ids[i]) re-ordered to ``target_ids`` (sorted), NaN rows for target ids
    absent from ``ids``: e.g. validation factors indexed by the rated movies mapped onto the collection's movies."""
    target_ids = np.asarray(target_ids)
    out = np.full((len(target_ids), matrix.shape[1]), np.nan, dtype=np.float32)
    if len(target_ids) == 0:
        return out
    position = np.clip(np.searchsorted(target_ids, ids), 0, len(target_ids) - 1)
    found = target_ids[position] == ids
    out[position[found]] = matrix[found]
    return out


@dataclass
class Scorer:
    """What every ranking of one evaluation shares: the train ratings, the fitted factors (NaN rows for items no
    one rated in train), their content-imputed completion, the content vectors and their index (rows are items).

    The candidates of a group of users, with both signals, are computed once and re-ranked for every weight: the
    candidate set does not depend on the weight, and ALS alone differs only in leaving imputed items unscored.
    So is each signal's per-row scaling for blends by a weight schedule or segment weights (``blend.ScaledRows``):
    redone for every weight, it was about half of a schedule search's ranking time.
    """

    train: sp.csr_matrix
    user_factors: np.ndarray
    item_factors: np.ndarray
    content_vectors: np.ndarray
    content_index: faiss.Index
    candidates: int = DEFAULT_CANDIDATES
    impute: bool = True  # False for a model that is only ever ranked alone: its items without factors stay unscored
    cold_route: str = "neighbours"  # how items without factors get some: see complete_factors
    prior: np.ndarray | None = None  # per item, in [0, 1]; default: popularity_prior of the train ratings
    clock: RatingClock | None = None  # rating times: a time-aware prior instead (see Blender)
    popular_candidates: int = 100  # the most rated items join every user's candidates, for the prior to rank
    cold_candidates: int = 50  # and each user's nearest items without fitted factors (cold_items.cold_candidates)

    def __post_init__(self):
        self.fitted = np.flatnonzero(~np.isnan(self.item_factors).any(axis=1))
        self.n_train = np.diff(sp.csr_matrix(self.train).indptr)
        if self.prior is None:
            self.prior = popularity_prior(self.train.indices, self.train.shape[1])
        if self.impute:
            self.completed, self.imputed = complete_factors(self.item_factors, self.content_vectors, self.cold_route)
        else:
            self.completed, self.imputed = self.item_factors, np.zeros(len(self.item_factors), dtype=bool)
        self._cache: tuple[np.ndarray, list] | None = None
        self._scaled: tuple[list, list[ScaledRows]] | None = None

    def _blocks(self, users: np.ndarray) -> list:
        if self._cache is None or not np.array_equal(self._cache[0], users):
            rated = self.train[users]
            profiles = hybrid.content_profiles(rated, self.content_vectors)
            blocks = list(hybrid.user_candidates(
                self.user_factors[users], self.completed, profiles, self.content_vectors, rated, self.candidates,
                self.content_index, self.fitted, extra_items=extra_candidates(
                    self.train, profiles, self.content_vectors, self.imputed, self.popular_candidates,
                    self.cold_candidates, self.content_index),
            ))
            self._cache = (users, blocks)
        return self._cache[1]

    def _scaled_blocks(self, users: np.ndarray) -> list[ScaledRows]:
        blocks = self._blocks(users)
        if self._scaled is None or self._scaled[0] is not blocks:
            self._scaled = (blocks, [ScaledRows.of(candidate, als, content) for _, candidate, als, content in blocks])
        return self._scaled[1]

    def blender(self, weights: BlendWeights | WeightSchedule, users: np.ndarray) -> Blender:
        """``weights`` bound to ``users`` (rows of the candidate blocks of those users), the prior, fitted items."""
        has_factors = np.zeros(self.train.shape[1], dtype=bool)
        has_factors[self.fitted] = True
        return Blender(weights, self.n_train[users], self.prior, has_factors, self.clock, users)

    def top_k(self, weight: "float | BlendWeights | WeightSchedule", k: int, users: np.ndarray,
              imputed: bool = True) -> np.ndarray:
        """Top-k item indices (users × k, -1 padded) of the blend for ``users``, seen items excluded; ALS alone
        (weight 1, ``imputed=False``) leaves items without fitted factors unscored by ALS. ``weight`` is the ALS
        share, segment weights or a weight schedule."""
        if isinstance(weight, (BlendWeights, WeightSchedule)):
            weight = self.blender(weight, users)
        blocks = self._blocks(users)
        if isinstance(weight, Blender) and imputed:
            parts = [hybrid.top_of_blend(block, candidate, weight.scaled(block, rows), als, content, k)
                     for (block, candidate, als, content), rows in zip(blocks, self._scaled_blocks(users))]
        else:
            parts = []
            for block, candidate, als, content in blocks:
                if not imputed:
                    als = np.where(self.imputed[np.maximum(candidate, 0)] & (als > -np.inf), np.nan, als)
                parts.append(hybrid.rank_candidates(block, candidate, als, content, weight, k))
        if not parts:
            return np.full((0, k), -1, dtype=np.int64)
        return hybrid.to_matrix(np.concatenate([p["user"] for p in parts]), np.concatenate([p["item"] for p in parts]),
                                len(users), k)


def search_weight(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, k: int = 10) -> tuple[float, dict[float, float]]:
    """The ALS share of the blend with the best nDCG@k on the held-out ratings of ``users``."""
    truth = test[users]
    return choose_weight(lambda weight: metrics.ndcg_at_k(scorer.top_k(weight, k, users), truth, k))


def search_schedule(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, k: int = 10,
                    grid: tuple[WeightSchedule, ...] = SCHEDULE_GRID) -> tuple[WeightSchedule, dict[str, float]]:
    """The ``WeightSchedule`` with the best nDCG@k on the held-out ratings of ``users`` (the tuning users), all
    of them at once (``blend.choose_schedule``)."""
    truth = test[users]
    return choose_schedule(lambda schedule: metrics.ndcg_at_k(scorer.top_k(schedule, k, users), truth, k), grid)


COLD_ROUTES = ("neighbours", "ridge")


def search_cold_route(scorers: dict[str, Scorer], schedule: WeightSchedule, test: sp.csr_matrix, users: np.ndarray,
                      k: int = 10) -> tuple[str, dict[str, float]]:
    """The cold route (``COLD_ROUTES``; one scorer each, alike but for ``cold_route``) whose ranking at
    ``schedule`` has the best nDCG@k on the held-out ratings of ``users`` (the tuning users); ties keep
    ``neighbours``. Returns the route and every route's score."""
    truth = test[users]
    scores = {route: metrics.ndcg_at_k(scorers[route].top_k(schedule, k, users), truth, k) for route in COLD_ROUTES}
    return max(COLD_ROUTES, key=lambda route: (scores[route], route == "neighbours")), scores


def top_items(popularity: np.ndarray, n: int) -> np.ndarray:
    """The n items with the most ratings (ties → lower index)."""
    return np.lexsort((np.arange(len(popularity)), -np.asarray(popularity)))[:n]


def extra_candidates(train: sp.csr_matrix, profiles: np.ndarray, content_vectors: np.ndarray, completed: np.ndarray,
                     popular: int = 100, cold: int = 50, content_index: faiss.Index | None = None) -> np.ndarray:
    """The ``extra_items`` of ``hybrid.user_candidates`` for the rows of ``profiles``: the ``popular`` most rated
    items (for the prior) and each row's ``cold`` nearest items among those with completed (not fitted) factors
    (rows × (popular + cold), -1 padded; ``cold_items.cold_candidates``, with ``content_index``, rows are items).
    The hybrid_recommendations asset passes the same."""
    top = top_items(hybrid.popularity_scores(train), popular)
    top = np.broadcast_to(top, (len(profiles), len(top)))
    nearest_cold = cold_items.cold_candidates(profiles, content_vectors, completed, cold, content_index=content_index)
    return np.concatenate([top, nearest_cold], axis=1)


def complete_factors(item_factors: np.ndarray, content_vectors: np.ndarray, route: str,
                     regularization: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Factors for the items without any, by ``route``: ``neighbours`` (``hybrid.impute_item_factors``, the mean
    of 20 content neighbours' factors) or ``ridge`` (``cold_items.complete_item_factors``, a content → factor map
    fitted on the rated items). Returns the completed factors and the mask of completed rows."""
    if route == "neighbours":
        return hybrid.impute_item_factors(item_factors, content_vectors)
    if route == "ridge":
        return cold_items.complete_item_factors(item_factors, content_vectors, regularization)
    raise ValueError(f"cold route must be one of {COLD_ROUTES}, got {route!r}")


def content_top_k(rated: sp.csr_matrix, content_vectors: np.ndarray, k: int, items: np.ndarray | None = None,
                  block_size: int = 256) -> np.ndarray:
    """Content alone, exactly: each row of ``rated``'s top-k unseen items among ``items`` (default: all) by the
    cosine to its content profile. Memory is ``block_size`` × |items| floats: pass the rated catalogue at scale."""
    rated = sp.csr_matrix(rated)
    rated.sort_indices()
    items = np.arange(rated.shape[1]) if items is None else np.asarray(items, dtype=np.int64)
    position = np.full(rated.shape[1], -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    candidates = np.ascontiguousarray(content_vectors[items], dtype=np.float32)
    profiles = hybrid.content_profiles(rated, content_vectors)
    out = np.full((rated.shape[0], k), -1, dtype=np.int64)
    for start in range(0, rated.shape[0], block_size):
        rows = slice(start, min(start + block_size, rated.shape[0]))
        scores = profiles[rows] @ candidates.T
        block = rated[rows]
        seen_rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        seen_cols = position[block.indices]
        scores[seen_rows[seen_cols >= 0], seen_cols[seen_cols >= 0]] = -np.inf
        width = min(k, len(items))
        top = hybrid.top_sorted(scores, width)
        out[rows, :width] = np.where(np.take_along_axis(scores, top, axis=1) > -np.inf, items[top], -1)
    return out


def search_field_weights(train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, blocks: np.ndarray,
                         layout: dict[str, tuple[int, int]], k: int = 10, items: np.ndarray | None = None,
                         grid=(0.0, 0.5, 1.0, 2.0, 4.0), rounds: int = 2) -> tuple[dict[str, float], dict[str, float]]:
    """Content field weights with the best content-alone nDCG@k on the held-out ratings of ``users`` (the tuning
    users): coordinate ascent over ``grid`` (``content.choose_field_weights``) on the field blocks."""
    from spin_reel_assets.recommender.content import choose_field_weights, weigh_fields

    rated, truth = train[users], test[users]

    def evaluate(weights: dict[str, float]) -> float:
        return metrics.ndcg_at_k(content_top_k(rated, weigh_fields(blocks, layout, weights), k, items), truth, k)

    return choose_field_weights(evaluate, list(layout), grid, rounds)


def search_blend_weights(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, k: int = 10,
                         **grid) -> BlendWeights:
    """Segment weights (``blend.choose_blend_weights``) by nDCG@k on the held-out ratings of ``users`` (tuning
    users), each segment on its own users; ``grid`` is passed on (shares, cold_als_grid, shrinkage, prior)."""
    users = np.asarray(users, dtype=np.int64)
    segment = metrics.user_segment(scorer.n_train[users])
    tops: dict[BlendWeights, np.ndarray] = {}  # one ranking of all tuning users per grid point

    def evaluate(subset: np.ndarray, weights: BlendWeights) -> float:
        if weights not in tops:
            tops[weights] = scorer.top_k(weights, k, users)
        return metrics.ndcg_at_k(tops[weights][np.searchsorted(users, subset)], test[subset], k)

    segment_users = [users[segment == index] for index in range(len(metrics.USER_SEGMENTS))]
    return choose_blend_weights(evaluate, segment_users, **grid)


PRIOR_GRID = tuple(PriorSpec(window, bonus) for window in (None, 365.0, 90.0) for bonus in (0.0, 0.5))


def search_prior(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, k: int = 10,
                 grid: tuple[PriorSpec, ...] = PRIOR_GRID) -> tuple[PriorSpec, dict[str, float]]:
    """The ``PriorSpec`` with the best tuning nDCG@k, each with its own blend weights on a coarse grid (shares
    step 0.25). Without a clock the prior is the static popularity: the default spec."""
    if scorer.clock is None:
        return PriorSpec(), {}
    scores = {}
    for spec in grid:
        weights = search_blend_weights(scorer, test, users, k, shares=simplex_grid(0.25), cold_als_grid=(0.0, 1.0),
                                       prior=spec)
        scores[spec] = metrics.ndcg_at_k(scorer.top_k(weights, k, users), test[users], k)
    best = max(grid, key=lambda spec: (scores[spec], -grid.index(spec)))
    return best, {str(spec): value for spec, value in scores.items()}


@dataclass
class ModelSelection:
    """Everything chosen on tuning users for the production hybrid: content field weights, the cold-item route,
    the per-segment blend weights, the ALS share of similar-movie lists, with the grids that chose them."""

    field_weights: dict[str, float]
    cold_route: str
    blend: BlendWeights
    item_weight: float
    grids: dict

    def to_dict(self) -> dict:
        return {"field_weights": self.field_weights, "cold_route": self.cold_route, "blend": self.blend.to_dict(),
                "item_weight": self.item_weight, "grids": self.grids}

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSelection":
        return cls(data["field_weights"], data["cold_route"], BlendWeights.from_dict(data["blend"]),
                   float(data["item_weight"]), data.get("grids", {}))


def select_model(train: sp.csr_matrix, test: sp.csr_matrix, tuning_users: np.ndarray, user_factors: np.ndarray,
                 item_factors: np.ndarray, blocks: np.ndarray, layout: dict[str, tuple[int, int]],
                 content_index: faiss.Index, clock: RatingClock | None = None, candidates: int = DEFAULT_CANDIDATES,
                 k: int = 10, field_items: np.ndarray | None = None,
                 **grid) -> tuple[ModelSelection, dict[str, tuple[Scorer, BlendWeights]]]:
    """The ``blend_weights`` stage, on the tuning users only: the content field weights (content alone); the
    prior (``search_prior``, with the cold route of the ridge map); then for each cold-item route the segment
    blend weights, keeping the route with the better tuning nDCG@k over all tuning users; and the ALS share of
    the similar-movie lists (the single-weight search).

    ``user_factors``/``item_factors`` come from the validation fit (train part; NaN rows for the unrated),
    ``blocks``/``layout`` from ``content.embed_fields``; ``content_index`` retrieves content candidates (the
    faiss_index asset's, built on the unweighted vectors: candidates only, scores are exact); ``clock`` (the
    train ratings' times, ``RatingClock.from_ratings``) enables the time-aware prior. ``field_items`` limits the
    exact content-alone search of the field weights (e.g. to the rated catalogue at scale). Returns the
    selection and, per cold route, its scorer and weights (reusable for the evaluation users).
    """
    from spin_reel_assets.recommender.content import weigh_fields

    field_weights, field_grid = search_field_weights(train, test, tuning_users, blocks, layout, k, field_items)
    vectors = weigh_fields(blocks, layout, field_weights)
    scorers = {route: Scorer(train, user_factors, item_factors, vectors, content_index, candidates,
                             cold_route=route, clock=clock) for route in COLD_ROUTES}
    prior, prior_grid = search_prior(scorers["ridge"], test, tuning_users, k)
    chosen, route_scores = {}, {}
    for route, scorer in scorers.items():
        chosen[route] = search_blend_weights(scorer, test, tuning_users, k, prior=prior, **grid)
        route_scores[route] = metrics.ndcg_at_k(scorer.top_k(chosen[route], k, tuning_users), test[tuning_users], k)
    route = max(COLD_ROUTES, key=lambda name: (route_scores[name], name == "ridge"))
    item_weight, item_grid = search_weight(scorers[route], test, tuning_users, k)
    grids = {"field_weights": field_grid, "prior": prior_grid, "cold_route": route_scores,
             "blend": chosen[route].grid, "item_weight": {str(w): v for w, v in item_grid.items()}}
    routes = {name: (scorers[name], chosen[name]) for name in COLD_ROUTES}
    return ModelSelection(field_weights, route, chosen[route], item_weight, grids), routes


EASE_MAX_ITEMS = 20_000  # EASE inverts a dense items × items Gram matrix: 1.6 GB at 20k items, never at 60k+


def ease_top_k(train: sp.csr_matrix, users: np.ndarray, k: int = 10, regularization: float = 500.0,
               max_items: int = EASE_MAX_ITEMS) -> np.ndarray | None:
    """EASE (Steck 2019) as a reference: B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹ over the items with training
    ratings, binary X. Returns the users' top-k unseen items, or None when more than ``max_items`` items are rated
    (the dense Gram matrix would not fit the budget)."""
    train = sp.csr_matrix(train)
    rated_items = np.flatnonzero(np.diff(train.tocsc().indptr) > 0)
    if len(rated_items) > max_items:
        return None
    x = sp.csr_matrix((np.ones_like(train.data), train.indices, train.indptr), shape=train.shape)[:, rated_items]
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += regularization
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    b = b.astype(np.float32)
    rows = x[np.asarray(users)]
    scores = np.asarray(rows @ b)
    scores[rows.nonzero()] = -np.inf
    top = hybrid.top_sorted(scores, min(k, scores.shape[1]))
    return np.where(np.take_along_axis(scores, top, axis=1) > -np.inf, rated_items[top], -1)


def ranked_lists(scorer: Scorer, users: np.ndarray, weights: "float | BlendWeights | WeightSchedule", k: int = 10,
                 references: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The top-k lists (users × k) of popularity, ALS alone, content alone and the hybrid (``weights``) for
    ``users``, plus any ``references`` (name → users × k top lists, e.g. EASE)."""
    users = np.asarray(users, dtype=np.int64)
    train = scorer.train
    return {
        "popularity": hybrid.recommend_popular(train[users], hybrid.popularity_scores(train), k),
        "als": scorer.top_k(1.0, k, users, imputed=False),
        "content": scorer.top_k(0.0, k, users),
        "hybrid": scorer.top_k(weights, k, users),
        **(references or {}),
    }


def quality_table(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray,
                  weights: "float | BlendWeights | WeightSchedule", k: int = 10,
                  references: dict[str, np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """The ``recommendation_quality`` report on the evaluation users: ``metrics.segment_report`` (totals, user
    segments, cold vs warm hits) of every list of ``ranked_lists``."""
    return segment_reports(scorer, test, users, ranked_lists(scorer, users, weights, k, references), k)


def segment_reports(scorer: Scorer, test: sp.csr_matrix, users: np.ndarray, lists: dict[str, np.ndarray],
                    k: int = 10) -> dict[str, dict[str, float]]:
    """``metrics.segment_report`` of each of ``lists`` (name → top lists of ``users``); cold items: no training
    rating."""
    users = np.asarray(users, dtype=np.int64)
    truth = test[users]
    cold = hybrid.popularity_scores(scorer.train) == 0
    return {name: metrics.segment_report(top, truth, scorer.n_train[users], cold, k) for name, top in lists.items()}


def ratio_table(lists: dict[str, np.ndarray], truth: sp.csr_matrix, n_train: np.ndarray, k: int = 10,
                candidate: str = "hybrid", baselines: tuple[str, ...] = ("als", "popularity"),
                level: float = 0.9) -> dict[str, tuple[float, float, float]]:
    """nDCG@k of ``candidate`` over that of the better ``baselines``, on all users of ``lists`` (rows of
    ``truth``, with ``n_train`` training ratings each) and per user segment, each with its ``level`` bootstrap
    interval (``metrics.ratio_interval``): label ("all", "users 1-5", …) → (ratio, low, high)."""
    per_user = {name: metrics.user_ndcg(lists[name], truth, k) for name in (candidate, *baselines)}
    segment = metrics.user_segment(n_train)
    rows = {"all": np.ones(len(segment), dtype=bool)}
    rows.update({f"users {label}": segment == index for index, (label, _, _) in enumerate(metrics.USER_SEGMENTS)})
    return {label: metrics.ratio_interval(per_user[candidate][mask], [per_user[b][mask] for b in baselines], level)
            for label, mask in rows.items()}


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
