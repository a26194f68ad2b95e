"""Ranking and rating metrics against hand-computed values (Microsoft Recommenders definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from spin_reel_assets.recommender.metrics import (
    catalogue_coverage,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
    rmse,
)

N_ITEMS = 6


def _relevant(rows: list[list[int]]) -> sp.csr_matrix:
    users = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    items = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    return sp.csr_matrix((np.ones(len(items)), (users, items)), shape=(len(rows), N_ITEMS))


# user 0: hit at rank 2 of 2 relevant; item 5 is relevant so user 1's -1 padding would alias it (key 1*6-1 = 5)
# user 1: a partial list, hit at rank 1 of 1 relevant
# user 2: no recommendations, 1 relevant
# user 3: no relevant items → not evaluated
RECOMMENDED = np.array([[0, 1, 2], [3, -1, -1], [-1, -1, -1], [0, 1, 2]])
RELEVANT = _relevant([[1, 5], [3], [5], []])


def test_precision():
    # (1/3 + 1/3 + 0) / 3 = 2/9
    assert precision_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(2 / 9)


def test_recall():
    # (1/2 + 1/1 + 0) / 3 = 1/2
    assert recall_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(0.5)


def test_ndcg():
    # user 0: DCG = 1/log2(3) = 0.630930, IDCG over min(3, 2) = 1 + 1/log2(3) = 1.630930 → 0.386853
    # user 1: 1/1 = 1; user 2: 0 → (0.386853 + 1) / 3 = 0.462284
    assert ndcg_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(0.462284, abs=1e-6)


def test_map():
    # user 0: precision@2 = 1/2 at its hit, / min(3, 2) = 0.25; user 1: 1 / 1; user 2: 0 → 1.25 / 3
    assert map_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(1.25 / 3)


def test_several_hits_in_one_list():
    recommended = np.array([[0, 4, 1, 3]])
    relevant = _relevant([[0, 1, 2]])
    # hits at ranks 1 and 3. MAP: (1/1 + 2/3) / min(4, 3) = 5/9.
    assert map_at_k(recommended, relevant, k=4) == pytest.approx(5 / 9)
    # NDCG: (1 + 1/log2(4)) / (1 + 1/log2(3) + 1/log2(4)) = 1.5 / 2.130930 = 0.703918
    assert ndcg_at_k(recommended, relevant, k=4) == pytest.approx(0.703918, abs=1e-6)
    # only the first k count: at k = 2 one hit, precision 1/2, recall 1/3
    assert precision_at_k(recommended, relevant, k=2) == pytest.approx(0.5)
    assert recall_at_k(recommended, relevant, k=2) == pytest.approx(1 / 3)
    # more relevant items than k: the ideal list has min(2, 3) = 2 hits → 1 / (1 + 1/log2(3)) = 0.613147
    assert ndcg_at_k(recommended, relevant, k=2) == pytest.approx(0.613147, abs=1e-6)
    # MAP divides by min(2, 3): 1/1 / 2
    assert map_at_k(recommended, relevant, k=2) == pytest.approx(0.5)


def test_a_perfect_list_scores_one():
    recommended = np.array([[2, 0, 5]])
    relevant = _relevant([[0, 2]])
    assert ndcg_at_k(recommended, relevant, k=3) == pytest.approx(1.0)
    assert map_at_k(recommended, relevant, k=3) == pytest.approx(1.0)
    assert recall_at_k(recommended, relevant, k=3) == pytest.approx(1.0)


def test_a_list_narrower_than_k_counts_as_padded():
    # widths 2 < k = 3: user 0 still has its hit at rank 2
    assert precision_at_k(RECOMMENDED[:, :2], RELEVANT, k=3) == pytest.approx(2 / 9)


def test_no_evaluated_user_gives_nan():
    assert math.isnan(precision_at_k(np.array([[0, 1]]), _relevant([[]]), k=2))


def test_coverage():
    # items 0, 1, 2, 3 appear in the top-3 lists: 4 / 6; in the top-1 lists items 0 and 3: 2 / 6
    assert catalogue_coverage(RECOMMENDED, N_ITEMS, k=3) == pytest.approx(4 / 6)
    assert catalogue_coverage(RECOMMENDED, N_ITEMS, k=1) == pytest.approx(2 / 6)


def test_rmse_skips_missing_predictions():
    # errors 1 and 0 over the two scored rows: sqrt((1 + 0) / 2)
    assert rmse(np.array([1.0, np.nan, 3.0]), np.array([2.0, 5.0, 3.0])) == pytest.approx(math.sqrt(0.5))
    assert math.isnan(rmse(np.array([np.nan]), np.array([1.0])))


def test_ranking_report_keys_follow_k():
    report = ranking_report(RECOMMENDED, RELEVANT, N_ITEMS, k=3)
    assert report == pytest.approx(
        {"precision@3": 2 / 9, "recall@3": 0.5, "ndcg@3": 0.462284, "map@3": 1.25 / 3, "coverage": 4 / 6}, abs=1e-6
    )


def test_segment_report_against_hand_computed_values():
    from spin_reel_assets.recommender.metrics import segment_report, user_segment

    # 3 users, 6 items; item 5 is cold (no training rating). Training-rating counts put the users in
    # segments 1-5 (3 ratings), 6-20 (6) and >100 (150).
    relevant = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 1],
                                       [0, 1, 0, 0, 0, 0],
                                       [0, 0, 1, 1, 0, 0]], dtype=np.float32))
    recommended = np.array([[5, 1], [2, 1], [3, -1]])
    n_train = np.array([3, 6, 150])
    cold = np.array([False, False, False, False, False, True])
    assert user_segment(np.array([0, 1, 5, 6, 20, 21, 100, 101])).tolist() == [0, 0, 0, 1, 1, 2, 2, 3]
    report = segment_report(recommended, relevant, n_train, cold, k=2)
    d = 1 / np.log2(3)  # discount of rank 2
    # user 0: hit at rank 1 (cold item 5), 2 relevant → 1 / (1 + d); user 1: hit at rank 2, 1 relevant → d;
    # user 2: hit at rank 1, 2 relevant → 1 / (1 + d).
    assert report["ndcg@2 users 1-5"] == pytest.approx(1 / (1 + d))
    assert report["ndcg@2 users 6-20"] == pytest.approx(d)
    assert np.isnan(report["ndcg@2 users 21-100"]) and report["users 21-100"] == 0
    assert report["ndcg@2 users >100"] == pytest.approx(1 / (1 + d))
    assert report["ndcg@2"] == pytest.approx((2 / (1 + d) + d) / 3)
    assert report["users 1-5"] == report["users 6-20"] == report["users >100"] == 1
    assert report["cold hits@2"] == 1 and report["warm hits@2"] == 2
    assert report["cold recall@2"] == 1.0 and report["cold shown@2"] == 1


def test_user_ndcg_per_user_and_its_mean_is_ndcg():
    from spin_reel_assets.recommender.metrics import user_ndcg

    per_user = user_ndcg(RECOMMENDED, RELEVANT, k=3)
    d = 1 / math.log2(3)
    # user 0: hit at rank 2 of 2 relevant; user 1: hit at rank 1; user 2: no hit; user 3: not evaluated
    assert per_user[:3] == pytest.approx([d / (1 + d), 1.0, 0.0]) and np.isnan(per_user[3])
    assert ndcg_at_k(RECOMMENDED, RELEVANT, k=3) == pytest.approx(np.nanmean(per_user))


def test_ratio_interval_against_the_better_baseline():
    from spin_reel_assets.recommender.metrics import ratio_interval

    rng = np.random.default_rng(0)
    baseline = rng.random(400)
    weaker = baseline / 4
    # exactly twice the better baseline in every draw: a point interval
    assert ratio_interval(2 * baseline, [weaker, baseline]) == pytest.approx((2.0, 2.0, 2.0))
    # users without relevant items (NaN) are left out, for every recommender alike
    with_missing = np.r_[2 * baseline, np.nan, np.nan]
    assert ratio_interval(with_missing, [np.r_[baseline, 5.0, 5.0]]) == pytest.approx((2.0, 2.0, 2.0))
    # independent noise: the interval holds the ratio, and is wider on a tenth of the users
    noisy = baseline * rng.uniform(0.5, 1.7, 400)
    ratio, low, high = ratio_interval(noisy, [baseline, weaker])
    assert low < ratio < high and ratio == pytest.approx(noisy.mean() / baseline.mean())
    _, small_low, small_high = ratio_interval(noisy[:40], [baseline[:40], weaker[:40]])
    assert small_high - small_low > 2 * (high - low)
    assert all(np.isnan(ratio_interval(np.full(3, np.nan), [np.ones(3)])))
