"""Train/test splits of a ratings table, per user.

Both splits follow the Microsoft Recommenders protocol: every user contributes the same share of ratings to the
test set, so the ranking metrics average over users without heavy users dominating. A user always keeps at least
one training rating — a user who is only in the test set cannot be scored by a collaborative model.

Each function takes the rating rows' user indices (and timestamps) and returns a boolean ``is_test`` mask aligned
with the input rows. Per user, ``round(test_fraction * n_u)`` rows go to test (Python/NumPy rounding: halves go to
the even number), capped at ``n_u - 1``.
"""

from __future__ import annotations

import numpy as np

from spin_reel_assets.schema import DEFAULT_SEED


def stratified_split(user_idx: np.ndarray, test_fraction: float = 0.25, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Random per-user split: a seeded random ``round(test_fraction * n_u)`` of each user's ratings are test."""
    user_idx = np.asarray(user_idx)
    keys = np.random.default_rng(seed).random(len(user_idx))
    # Sorting by (user, random key) shuffles each user's rows independently in one vectorized pass.
    order = np.lexsort((keys, user_idx))
    return _last_share_is_test(user_idx, order, test_fraction)


def temporal_split(user_idx: np.ndarray, timestamps: np.ndarray, test_fraction: float = 0.25) -> np.ndarray:
    """Chronological per-user split: each user's latest ``round(test_fraction * n_u)`` ratings are test.

    Equal timestamps are ordered by input position (a later row counts as later), as ``np.lexsort`` is stable.
    """
    user_idx = np.asarray(user_idx)
    timestamps = np.asarray(timestamps)
    if len(timestamps) != len(user_idx):
        raise ValueError(f"{len(timestamps)} timestamps for {len(user_idx)} ratings")
    if np.issubdtype(timestamps.dtype, np.datetime64):
        timestamps = timestamps.astype("datetime64[ns]").astype(np.int64)
    order = np.lexsort((timestamps, user_idx))
    return _last_share_is_test(user_idx, order, test_fraction)


def _last_share_is_test(user_idx: np.ndarray, order: np.ndarray, test_fraction: float) -> np.ndarray:
    """Mark as test the last ``round(test_fraction * n_u)`` rows of each user in ``order`` (rows sorted by user)."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    is_test = np.zeros(len(user_idx), dtype=bool)
    if len(user_idx) == 0:
        return is_test
    sorted_users = user_idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_users)])
    n_test = np.minimum(np.rint(test_fraction * sizes).astype(np.int64), sizes - 1)
    # Position of each sorted row within its user's run, counted from the end of the run.
    from_end = np.repeat(starts + sizes, sizes) - np.arange(len(sorted_users))
    is_test[order] = from_end <= np.repeat(n_test, sizes)
    return is_test
