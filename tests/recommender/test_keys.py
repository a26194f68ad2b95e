import numpy as np

from spin_reel_assets.recommender.keys import distinct, keys_in, pair_keys


def test_keys_in_is_np_isin():
    rng = np.random.default_rng(4)
    among = rng.integers(0, 1000, 300)
    keys = np.concatenate([rng.integers(0, 1000, 500), np.sort(rng.integers(-5, 1005, 500))])
    assert np.array_equal(keys_in(keys, among), np.isin(keys, among))
    assert not keys_in(keys, among[:0]).any() and keys_in(keys[:0], among).shape == (0,)


def test_distinct_is_np_unique():
    rng = np.random.default_rng(5)
    users, movies = rng.integers(1, 50, 2_000).astype(np.int32), rng.integers(1, 40, 2_000).astype(np.int32)
    for values in (pair_keys(users, movies), users, np.sort(users), users[:1], users[:0], np.array([-3, 7, -3, 0])):
        got = distinct(values)
        assert np.array_equal(got, np.unique(values)) and got.dtype == values.dtype
