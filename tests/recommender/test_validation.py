"""The validation protocol travels as tables: every consumer rebuilds exactly the split the validation fit saw."""

import numpy as np
import pyarrow as pa
import pytest

from spin_reel_assets.recommender.validation import factor_table, factor_tables, factors_from_table, hold_out, rebuild


def ratings(seed: int = 3, users: int = 40, movies: int = 30) -> pa.Table:
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.stack([rng.integers(1, users + 1, 600), rng.integers(100, 100 + movies, 600)], axis=1), axis=0)
    return pa.table({
        "user_id": pa.array(pairs[:, 0], pa.int32()),
        "tmdb_id": pa.array(pairs[:, 1], pa.int32()),
        "rating": pa.array(rng.integers(1, 11, len(pairs)) / 2, pa.float32()),
        "rated_at": pa.array(rng.integers(0, 10**9, len(pairs)) * 1_000_000, pa.timestamp("us", tz="UTC")),
    })


@pytest.mark.parametrize("split", ["stratified", "temporal"])
def test_a_consumer_rebuilds_the_split_and_factors_in_its_own_item_space(split):
    table = ratings()
    holdout = hold_out(table, split, seed=7, test_fraction=0.25, tuning_fraction=0.3, new_user_share=0.2)
    rng = np.random.default_rng(0)
    user_factors = rng.random((len(holdout.user_ids), 4)).astype(np.float32)
    item_factors = rng.random((len(holdout.item_ids), 4)).astype(np.float32)
    item_factors[2] = np.nan  # an item ALS left without factors
    tables = {**holdout.split_tables(), **factor_tables(holdout.user_ids, holdout.item_ids, user_factors, item_factors)}

    # the consumer's item space: the rated movies plus movies nobody rated, interleaved
    catalogue = np.union1d(holdout.item_ids, np.arange(50, 200, 7))
    validation = rebuild(table, tables, catalogue)
    column = np.searchsorted(catalogue, holdout.item_ids)
    assert (validation.train[:, column] != holdout.interactions.matrix(holdout.is_train)).nnz == 0
    assert (validation.test[:, column] != holdout.interactions.matrix(holdout.is_test)).nnz == 0
    withheld = tables["withheld"].num_rows
    assert withheld > 0  # the simulated new users' withheld history is neither train nor test
    assert validation.train.nnz + validation.test.nnz + withheld == table.num_rows
    assert np.array_equal(validation.tuning_users, holdout.tuning_users)
    assert np.array_equal(validation.evaluation_users, holdout.evaluation_users)
    assert not np.intersect1d(validation.tuning_users, validation.evaluation_users).size
    np.testing.assert_array_equal(validation.user_factors, user_factors)
    np.testing.assert_array_equal(validation.item_factors[column], item_factors)
    unrated = np.setdiff1d(np.arange(len(catalogue)), column)
    assert np.isnan(validation.item_factors[unrated]).all()


def test_the_temporal_protocol_holds_out_each_users_latest_ratings():
    table = ratings()
    holdout = hold_out(table, "temporal", seed=7, test_fraction=0.25, tuning_fraction=0.3)
    stamps = table.column("rated_at").cast(pa.int64()).to_numpy()
    users = holdout.interactions.users
    for user in np.unique(users):
        mine = users == user
        test, train = stamps[mine & holdout.is_test], stamps[mine & holdout.is_train]
        assert len(train) and (not len(test) or train.max() <= test.min())


def test_factor_tables_keep_only_fitted_rows():
    ids = np.array([5, 9, 12])
    factors = np.array([[1, 2], [np.nan, np.nan], [3, 4]], dtype=np.float32)
    table = factor_table(ids, factors)
    assert table.column("id").to_pylist() == [5, 12]
    back = factors_from_table(table, np.array([12, 9, 5, 7]))
    np.testing.assert_array_equal(back[[0, 2]], [[3, 4], [1, 2]])
    assert np.isnan(back[[1, 3]]).all()
