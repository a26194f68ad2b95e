"""Integer keys at rating scale (25M and more): one int64 per (user, movie) pair, and membership and distinct
values by sorting."""

import numpy as np


def pair_keys(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """One int64 per (user id, movie id) pair: both ids are int32 in every store."""
    return users.astype(np.int64) << 32 | movies.astype(np.int64)


def keys_in(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """``np.isin(keys, among)`` by one sort of ``among`` and a binary search per key. np.isin sorts both and
    their concatenation: this was 6× faster for 3M keys among 25M, and 8× for 25M sorted keys (ratings come in
    primary-key order) among 6M; only many unsorted keys among few are slower this way."""
    among = np.sort(among)
    if len(among) == 0:
        return np.zeros(len(keys), dtype=bool)
    return among[np.minimum(np.searchsorted(among, keys), len(among) - 1)] == keys


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of integers, by one sort (none when already sorted, as ratings in primary-key order
    are). NumPy 2.3+ finds unique values with a hash table instead: 60 s for 25M (user, movie) pair keys, whose
    low bits repeat, against 2.5 s sorted, and 4.7 s against 1.2 s for 25M unsorted user ids."""
    values = np.asarray(values).ravel()
    ordered = values if np.all(values[1:] >= values[:-1]) else np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
