"""Per-user train/test splits: share per user, at least one training rating, determinism, chronology."""

from __future__ import annotations

import numpy as np
import pytest

from spin_reel_assets.recommender.split import stratified_split, temporal_split


def _interleaved_users(sizes: list[int]) -> np.ndarray:
    """User index per rating for users with the given rating counts, rows of different users interleaved."""
    users = np.repeat(np.arange(len(sizes)), sizes)
    return users[np.random.default_rng(0).permutation(len(users))]


def test_stratified_split_takes_a_rounded_share_of_each_user():
    sizes = [1, 2, 4, 6, 8, 10]
    users = _interleaved_users(sizes)
    is_test = stratified_split(users, test_fraction=0.25, seed=1)
    # round(0.25 * n), halves to even: 1 → 0.25 → 0; 2 → 0.5 → 0; 4 → 1; 6 → 1.5 → 2; 8 → 2; 10 → 2.5 → 2.
    assert np.bincount(users, weights=is_test).tolist() == [0, 0, 1, 2, 2, 2]


def test_every_user_keeps_a_training_rating():
    sizes = [1, 2, 5]
    users = _interleaved_users(sizes)
    # round(0.9 * n) capped at n - 1: 1 → 0.9 → 1 → 0; 2 → 1.8 → 2 → 1; 5 → 4.5 → 4 (already ≤ 4).
    for is_test in (stratified_split(users, 0.9), temporal_split(users, np.arange(len(users)), 0.9)):
        assert np.bincount(users, weights=is_test).tolist() == [0, 1, 4]


def test_stratified_split_is_deterministic_per_seed():
    users = _interleaved_users([20] * 50)
    first = stratified_split(users, seed=7)
    assert np.array_equal(first, stratified_split(users, seed=7))
    assert not np.array_equal(first, stratified_split(users, seed=8))
    assert first.sum() == 50 * 5


def test_stratified_split_picks_different_ratings_across_users():
    # Two users with identical rating layouts must not get the same positions: the shuffle is per rating.
    users = np.repeat([0, 1], 40)
    is_test = stratified_split(users, seed=3)
    assert not np.array_equal(is_test[:40], is_test[40:])


def test_temporal_split_takes_each_users_latest_ratings():
    users = np.array([0, 1, 0, 1, 0, 1, 0, 1, 2, 2, 2, 2])
    times = np.array([5, 10, 1, 40, 3, 30, 4, 20, 7, 7, 7, 7])
    is_test = temporal_split(users, times, test_fraction=0.5)
    # user 0: 4 ratings → 2 test, the latest times 5 (row 0) and 4 (row 6);
    # user 1: times 10, 40, 30, 20 → 2 test: 40 (row 3) and 30 (row 5);
    # user 2: all at time 7 → input order decides: the last two rows (10, 11).
    assert np.flatnonzero(is_test).tolist() == [0, 3, 5, 6, 10, 11]


def test_temporal_split_accepts_datetimes():
    users = np.array([0, 0, 0, 0])
    times = np.array(["2024-01-03", "2024-01-01", "2024-01-04", "2024-01-02"], dtype="datetime64[s]")
    assert temporal_split(users, times).tolist() == [False, False, True, False]


def test_split_edge_cases():
    assert stratified_split(np.array([], dtype=np.int64)).shape == (0,)
    with pytest.raises(ValueError):
        stratified_split(np.array([0, 0]), test_fraction=1.5)
    with pytest.raises(ValueError):
        temporal_split(np.array([0, 0]), np.array([1]))


def _ratings(n_users: int = 80, seed: int = 0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 60, n_users)
    users = np.repeat(np.arange(n_users), sizes)
    order = rng.permutation(len(users))
    return users[order], rng.integers(0, 10**9, len(users))[order]


def test_temporal_protocol_never_trains_on_a_rating_after_a_test_rating():
    from spin_reel_assets.recommender.split import protocol_split

    users, times = _ratings()
    split = protocol_split(users, times, "temporal", test_fraction=0.2, new_user_share=0.25, new_user_max_ratings=5, seed=3)
    assert not (split.train & split.test).any()
    for user in np.unique(users):
        train_times, test_times = times[(users == user) & split.train], times[(users == user) & split.test]
        assert len(test_times) and len(train_times)
        assert train_times.max() <= test_times.min()
    # simulated new users keep their first 1..5 training ratings by time; their test ratings stay
    n_train = np.bincount(users[split.train], minlength=80)
    assert len(split.new_users) == 20 and (n_train[split.new_users] <= 5).all() and (n_train[split.new_users] >= 1).all()
    for user in split.new_users[:5]:
        mine = users == user
        kept = np.sort(times[mine & split.train])
        assert np.array_equal(kept, np.sort(times[mine & ~split.test])[: len(kept)])
    others = np.setdiff1d(np.arange(80), split.new_users)
    assert (n_train[others] + np.bincount(users[split.test], minlength=80)[others] == np.bincount(users)[others]).all()


def test_protocol_users_are_disjoint_seeded_groups_holding_both_kinds():
    from spin_reel_assets.recommender.split import protocol_split

    users, times = _ratings()
    split = protocol_split(users, times, seed=5)
    assert not set(split.tuning_users) & set(split.evaluation_users)
    assert set(split.tuning_users) | set(split.evaluation_users) == set(range(80))
    assert set(split.new_users) & set(split.tuning_users) and set(split.new_users) & set(split.evaluation_users)
    again = protocol_split(users, times, seed=5)
    assert np.array_equal(split.tuning_users, again.tuning_users) and np.array_equal(split.train, again.train)
    capped = protocol_split(users, times, seed=5, max_tuning_users=7, max_evaluation_users=9)
    assert len(capped.tuning_users) == 7 and len(capped.evaluation_users) == 9


def test_stratified_protocol_is_selectable():
    from spin_reel_assets.recommender.split import protocol_split

    users, times = _ratings()
    split = protocol_split(users, times, "stratified", test_fraction=0.25, new_user_share=0.0, seed=42)
    assert np.array_equal(split.test, stratified_split(users, 0.25, 42))
    assert np.array_equal(split.train, ~split.test) and len(split.new_users) == 0
    with pytest.raises(ValueError):
        protocol_split(users, times, "random")
