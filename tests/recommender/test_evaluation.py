"""Model selection and evaluation: disjoint tuning/evaluation users, and the weight search over real rankings."""

import numpy as np
import pytest
import scipy.sparse as sp

from spin_reel_assets.recommender.evaluation import Scorer, quality_table, search_weight
from spin_reel_assets.recommender.content import build_index, l2_normalize


def _planted(seed: int = 0, n_users: int = 60, n_items: int = 40):
    """Users like items of their own topic: content knows the topics, the factors are noise."""
    rng = np.random.default_rng(seed)
    topic_of_user, topic_of_item = rng.integers(0, 4, n_users), np.arange(n_items) % 4
    content = l2_normalize(np.eye(4)[topic_of_item] + 0.05 * rng.normal(size=(n_items, 4)))
    liked = topic_of_user[:, None] == topic_of_item[None, :]
    train = sp.csr_matrix(liked & (rng.random((n_users, n_items)) < 0.5), dtype=np.float32)
    test = sp.csr_matrix(liked & (train.toarray() == 0), dtype=np.float32)
    factors = (rng.normal(size=(n_users, 3)).astype(np.float32), rng.normal(size=(n_items, 3)).astype(np.float32))
    return Scorer(train, *factors, content, build_index(content)), test


def test_the_weight_search_prefers_the_informative_signal_and_the_quality_table_reports_it():
    scorer, test = _planted()
    users = np.arange(60)
    weight, grid = search_weight(scorer, test, users)
    # content carries the signal here, the factors are noise; exact ties go to the larger ALS weight
    assert weight < 0.5 and grid[weight] == max(grid.values()) > grid[1.0]
    report = quality_table(scorer, test, users, weight)
    assert set(report) == {"popularity", "als", "content", "hybrid"}
    # every user with held-out ratings is in exactly one segment
    assert sum(report["hybrid"][f"users {label}"] for label in ("1-5", "6-20", "21-100", ">100")) == \
        np.count_nonzero(np.diff(test.indptr))
    assert report["content"]["ndcg@10"] > 0.9 > report["als"]["ndcg@10"]
    assert report["hybrid"]["ndcg@10"] > report["als"]["ndcg@10"]


def test_a_model_ranked_alone_needs_no_imputation():
    scorer, _ = _planted()
    item_factors = scorer.item_factors.copy()
    item_factors[::5] = np.nan  # items nobody rated in train
    args = (scorer.train, scorer.user_factors, item_factors, scorer.content_vectors, scorer.content_index)
    imputing, plain = Scorer(*args), Scorer(*args, impute=False)
    assert imputing.imputed.any() and not plain.imputed.any()
    users = np.arange(60)
    assert np.array_equal(imputing.top_k(1.0, 10, users, imputed=False), plain.top_k(1.0, 10, users))


def _moved(test: sp.csr_matrix, users: np.ndarray, n_items: int) -> sp.csr_matrix:
    """``test`` with the held-out ratings of ``users`` moved to other items."""
    moved = test.tolil()
    for user in users:
        items = moved.rows[user]
        moved.rows[user] = sorted({(item + 7) % n_items for item in items})
        moved.data[user] = [1.0] * len(moved.rows[user])
    return moved.tocsr()


def test_blend_weights_are_chosen_on_tuning_users_only():
    from spin_reel_assets.recommender.evaluation import search_blend_weights
    from spin_reel_assets.recommender.blend import simplex_grid

    scorer, test = _planted()
    tuning, evaluation = np.arange(0, 60, 2), np.arange(1, 60, 2)
    grid = {"shares": simplex_grid(0.25), "cold_als_grid": (1.0,)}
    chosen = search_blend_weights(scorer, test, tuning, **grid)
    again = search_blend_weights(scorer, _moved(test, evaluation, 40), tuning, **grid)
    assert again == chosen and again.grid == chosen.grid
    # the same move on tuning users does change what the search sees
    assert search_blend_weights(scorer, _moved(test, tuning, 40), tuning, **grid).grid != chosen.grid


def test_segment_weights_apply_per_user_and_cold_items_get_their_als_factor():
    from spin_reel_assets.recommender.blend import Blender, BlendWeights, SignalWeights

    segments = (("few", 1, 5), ("many", 6, None))
    weights = BlendWeights(segments, (SignalWeights(0.0, 0.0, 1.0), SignalWeights(1.0, 0.0, 0.0, cold_als=0.5)))
    prior = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    fitted = np.array([True, True, False])
    blender = Blender(weights, n_train=np.array([3, 50]), prior=prior, fitted=fitted)
    candidate = np.array([[0, 1, 2], [0, 1, 2]])
    als = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    content = np.array([[1.0, 0.0, -np.inf], [0.0, 0.0, 0.0]])
    out = blender(np.array([0, 1]), candidate, als, content)
    # user 0 (3 ratings): the prior alone, item 2 excluded by content; user 1: ALS scaled to [0, 0.5, 1],
    # the unfitted item 2 at half its ALS share.
    assert out[0].tolist() == [0.0, 1.0, -np.inf]
    assert out[1].tolist() == [0.0, 0.5, 0.5]
    assert BlendWeights.from_dict(weights.to_dict()) == weights


def test_ease_reference_is_refused_above_its_item_budget():
    from spin_reel_assets.recommender.evaluation import ease_top_k

    scorer, test = _planted()
    top = ease_top_k(scorer.train, np.arange(10), k=5, regularization=1.0)
    assert top.shape == (10, 5) and not scorer.train[np.arange(10)].toarray()[np.arange(10)[:, None], top].any()
    assert ease_top_k(scorer.train, np.arange(10), k=5, max_items=10) is None


def test_align_rows_maps_factors_onto_another_id_space():
    from spin_reel_assets.recommender.evaluation import align_rows

    factors = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], dtype=np.float32)
    out = align_rows(np.array([30, 10, 99]), factors, np.array([10, 20, 30]))
    assert out[0].tolist() == [2.0, 2.0] and np.isnan(out[1]).all() and out[2].tolist() == [1.0, 1.0]


def test_the_schedule_is_chosen_on_tuning_users_only_and_is_the_best_of_its_grid():
    from spin_reel_assets.recommender.evaluation import search_schedule
    from spin_reel_assets.recommender.blend import schedule_key

    scorer, test = _planted()
    tuning, evaluation = np.arange(0, 60, 2), np.arange(1, 60, 2)
    chosen, grid = search_schedule(scorer, test, tuning)
    assert grid[schedule_key(chosen)] == max(grid.values())
    # content carries the signal of the planted data: the chosen schedule gives it a share
    assert chosen.content > 0
    assert search_schedule(scorer, _moved(test, evaluation, 40), tuning) == (chosen, grid)
    assert search_schedule(scorer, _moved(test, tuning, 40), tuning)[1] != grid


def test_rankings_that_share_the_scaled_signals_are_the_rankings_made_alone():
    """A weight search scales the two signals once for all its rankings (``blend.ScaledRows``): each ranking must
    be the one a fresh scorer makes, whatever was ranked before, with the static and the time-aware prior."""
    from spin_reel_assets.recommender.blend import DAY, SCHEDULE_GRID, RatingClock

    scorer, _ = _planted()
    n_users, n_items = scorer.train.shape
    ratings = scorer.train.tocoo()
    rng = np.random.default_rng(3)
    # Some movies released after their users' latest rating: the time-aware blend excludes them.
    clock = RatingClock.from_ratings(ratings.row, ratings.col, rng.uniform(0, 1000 * DAY, ratings.nnz), n_users,
                                     rng.uniform(0, 2000 * DAY, n_items))
    args = (scorer.train, scorer.user_factors, scorer.item_factors, scorer.content_vectors, scorer.content_index)
    users = np.arange(n_users)
    for clocked in (None, clock):
        shared = Scorer(*args, clock=clocked)
        shared.top_k(SCHEDULE_GRID[-1], 10, users[::2])  # another group of users first: their rows are cached
        lists = [shared.top_k(schedule, 10, users) for schedule in SCHEDULE_GRID[::9]]
        for schedule, ranked in zip(SCHEDULE_GRID[::9], lists):
            assert np.array_equal(ranked, Scorer(*args, clock=clocked).top_k(schedule, 10, users))
        assert any(not np.array_equal(lists[0], other) for other in lists[1:])


def test_a_schedule_trusts_als_more_the_more_a_user_rated():
    from spin_reel_assets.recommender.blend import Blender, WeightSchedule

    schedule = WeightSchedule(als_max=1.0, half_n=10.0, content=0.2, cold_als=0.5)
    table = schedule.table(np.array([0, 1, 10, 1000]))
    assert np.allclose(table[:, :3].sum(axis=1), 1.0)
    # ALS share (1 - content) · n / (n + half_n): 0, 0.8/11, 0.4, ~0.79; the prior takes the rest
    assert np.allclose(table[:, 0], [0.0, 0.8 / 11, 0.4, 0.8 * 1000 / 1010])
    assert np.allclose(table[:, 2], 0.8 - table[:, 0]) and (table[:, 1] == np.float32(0.2)).all()
    assert WeightSchedule.from_dict(schedule.to_dict()) == schedule
    # bound to users: the one with no rating is ranked by content and prior, the heavy one mostly by ALS
    prior = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    blender = Blender(schedule, n_train=np.array([0, 1000]), prior=prior, fitted=np.array([True, True, False]))
    candidate = np.array([[0, 1, 2], [0, 1, 2]])
    als = np.array([[0.0, 2.0, 1.0], [0.0, 2.0, 1.0]])
    content = np.zeros((2, 3))
    out = blender(np.array([0, 1]), candidate, als, content)
    assert out[0].argmax() == 0 and out[1].argmax() == 1
    # the unfitted item 2 gets half the ALS share: 0.5 · a · 0.5 (its scaled ALS) + its prior 0.5 · (0.8 - a)
    a = table[3, 0]
    assert out[1, 2] == pytest.approx(0.5 * a * 0.5 + (0.8 - a) * 0.5, rel=1e-6)


def test_content_alone_ranks_unseen_items_by_profile_cosine_among_the_given_items():
    from spin_reel_assets.recommender import hybrid
    from spin_reel_assets.recommender.evaluation import content_top_k

    scorer, _ = _planted(seed=3, n_items=400)
    rated, vectors = scorer.train, scorer.content_vectors
    items = np.arange(0, 400, 3)  # a subset of the catalogue, as at scale (the rated movies)
    top = content_top_k(rated, vectors, 10, items, block_size=7)
    scores = hybrid.content_profiles(rated, vectors) @ vectors[items].T
    scores[rated[:, items].toarray() > 0] = -np.inf
    expected = items[np.argsort(-scores, axis=1, kind="stable")[:, :10]]
    # the partition may order tied scores differently: compare the scores of the picks, rank by rank
    picked = np.take_along_axis(scores, np.searchsorted(items, top), axis=1)
    np.testing.assert_allclose(picked, np.take_along_axis(scores, np.searchsorted(items, expected), axis=1), rtol=1e-6)
    assert np.isin(top, items).all() and not (rated[np.arange(len(top))[:, None], top].toarray() > 0).any()


def test_the_cold_route_is_the_better_one_on_tuning_users_and_ties_keep_the_neighbours():
    from dataclasses import replace

    from spin_reel_assets.recommender.blend import WeightSchedule
    from spin_reel_assets.recommender.evaluation import COLD_ROUTES, search_cold_route
    from spin_reel_assets.recommender import metrics

    base, test = _planted(seed=4, n_items=80)
    # a quarter of the items without fitted factors: each route completes them its own way
    factors = base.item_factors.copy()
    factors[::4] = np.nan
    scorers = {route: replace(base, item_factors=factors, cold_route=route) for route in COLD_ROUTES}
    assert not np.allclose(scorers["neighbours"].completed[::4], scorers["ridge"].completed[::4])
    tuning, evaluation = np.arange(0, 60, 2), np.arange(1, 60, 2)
    schedule = WeightSchedule(als_max=1.0, half_n=3.0, content=0.3, cold_als=1.0)
    route, scores = search_cold_route(scorers, schedule, test, tuning)
    for name in COLD_ROUTES:
        expected = metrics.ndcg_at_k(scorers[name].top_k(schedule, 10, tuning), test[tuning], 10)
        assert scores[name] == pytest.approx(expected)
    assert scores[route] == max(scores.values())
    # the evaluation users' held-out ratings play no part
    assert search_cold_route(scorers, schedule, _moved(test, evaluation, 40), tuning) == (route, scores)
    # with the same scores the neighbour imputation stays
    same = {route: scorers["neighbours"] for route in COLD_ROUTES}
    assert search_cold_route(same, schedule, test, tuning)[0] == "neighbours"
