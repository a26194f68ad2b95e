"""The held-out protocol shared by model selection and evaluation, as plain arrays and Arrow tables.

``hold_out`` splits the ratings once (per user, see ``split``) and the users with held-out ratings into tuning and
evaluation users; the validation ALS fit sees only the train part. What it decided travels as tables (held-out
pairs, user groups, factors keyed by id), so the consumers rebuild exactly the same split in their own item space
(the content index's movies) without refitting or re-splitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from spin_reel_assets.recommender.evaluation import Interactions, index_ratings
from spin_reel_assets.recommender.factors import FactorTable, factor_table_from_arrow, factor_table_to_arrow
from spin_reel_assets.recommender.keys import distinct, keys_in, pair_keys
from spin_reel_assets.recommender.split import protocol_split
from spin_reel_assets.schema import MOVIE_ID, RATED_AT, RATING, USER_ID

TUNING, EVALUATION = "tuning", "evaluation"


def factor_table(ids: np.ndarray, factors: np.ndarray) -> pa.Table:
    """``factor_table_to_arrow`` of the ids that have factors (rows of NaN are left out)."""
    fitted = ~np.isnan(factors).any(axis=1) if factors.shape[1] else np.zeros(len(ids), dtype=bool)
    return factor_table_to_arrow(FactorTable(np.asarray(ids, dtype=np.int64)[fitted], factors[fitted]))


def factor_tables(user_ids: np.ndarray, item_ids: np.ndarray, user_factors: np.ndarray,
                  item_factors: np.ndarray) -> dict[str, pa.Table]:
    """The factors fitted on a split's train part (``HoldOut.user_ids``/``item_ids`` rows), keyed by id."""
    return {"user_factors": factor_table(user_ids, user_factors), "item_factors": factor_table(item_ids, item_factors)}


def factors_from_table(table: pa.Table, ids: np.ndarray) -> np.ndarray:
    """The factors of ``ids`` from a ``factor_table``: NaN rows for ids without factors."""
    return factor_table_from_arrow(table).aligned(ids)


@dataclass
class HoldOut:
    """One split of the ratings: the index space of the rated users and movies, the train and held-out masks (a
    row in neither is a simulated new user's withheld history) and the two disjoint groups of users with held-out
    ratings (indices into ``user_ids``)."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    interactions: Interactions
    is_train: np.ndarray
    is_test: np.ndarray
    tuning_users: np.ndarray
    evaluation_users: np.ndarray

    @property
    def train(self) -> Interactions:
        return self.interactions.subset(self.is_train)

    def split_tables(self) -> dict[str, pa.Table]:
        """The split, keyed by user_id / tmdb_id: held-out and withheld pairs, the user groups."""
        groups = np.concatenate([np.full(len(self.tuning_users), TUNING), np.full(len(self.evaluation_users), EVALUATION)])
        return {
            "held_out": self._pairs(self.is_test),
            "withheld": self._pairs(~self.is_train & ~self.is_test),
            "user_groups": pa.table({USER_ID: pa.array(self.user_ids[np.concatenate([self.tuning_users, self.evaluation_users])].astype(np.int32)),
                                     "group": pa.array(groups)}),
        }

    def _pairs(self, mask: np.ndarray) -> pa.Table:
        rows = self.interactions.subset(mask)
        return pa.table({USER_ID: pa.array(self.user_ids[rows.users].astype(np.int32)),
                         MOVIE_ID: pa.array(self.item_ids[rows.items].astype(np.int32))})


def hold_out(ratings: pa.Table, protocol: str, seed: int, **split) -> HoldOut:
    """Split ``ratings`` (user_id, tmdb_id, rating, rated_at) by ``split.protocol_split`` (``split``: its keyword
    arguments: test_fraction, new_user_share, tuning_fraction, ...)."""
    movie_ids = ratings.column(MOVIE_ID).to_numpy().astype(np.int64)
    item_ids = distinct(movie_ids)
    user_ids, interactions, _ = index_ratings(ratings.column(USER_ID).to_numpy(), movie_ids,
                                              ratings.column(RATING).to_numpy(), item_ids)
    stamps = ratings.column(RATED_AT).cast(pa.int64()).to_numpy()
    chosen = protocol_split(interactions.users, stamps, protocol, seed=seed, **split)
    return HoldOut(user_ids, item_ids, interactions, chosen.train, chosen.test, chosen.tuning_users,
                   chosen.evaluation_users)


@dataclass
class Validation:
    """The split rebuilt in a consumer's item space (``item_ids``, sorted): train and held-out matrices, the user
    groups as row indices, and the validation factors aligned to the rows and items (NaN where ALS has none)."""

    item_ids: np.ndarray
    train: sp.csr_matrix
    test: sp.csr_matrix
    tuning_users: np.ndarray
    evaluation_users: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray


def rebuild(ratings: pa.Table, tables: dict[str, pa.Table], item_ids: np.ndarray) -> Validation:
    """The validation split of ``tables`` (``HoldOut.split_tables`` and ``factor_tables``) over ``ratings`` in the item space ``item_ids``.

    Ratings of movies outside ``item_ids`` are left out, as every consumer scores only the movies it knows."""
    users, movies = ratings.column(USER_ID).to_numpy(), ratings.column(MOVIE_ID).to_numpy()
    user_ids, interactions, known = index_ratings(users, movies.astype(np.int64), ratings.column(RATING).to_numpy(), item_ids)
    keys = pair_keys(users[known], movies[known])

    def marked(name: str) -> np.ndarray:
        pairs = tables[name]
        return keys_in(keys, pair_keys(pairs.column(USER_ID).to_numpy(), pairs.column(MOVIE_ID).to_numpy()))

    is_test, withheld = marked("held_out"), marked("withheld")
    groups = tables["user_groups"]
    group_users = groups.column(USER_ID).to_numpy()
    group = np.asarray(groups.column("group").to_pylist())

    def rows(name: str) -> np.ndarray:
        wanted = group_users[group == name]
        position = np.clip(np.searchsorted(user_ids, wanted), 0, max(len(user_ids) - 1, 0))
        return np.sort(position[user_ids[position] == wanted])

    return Validation(
        item_ids=item_ids, train=interactions.matrix(~is_test & ~withheld), test=interactions.matrix(is_test),
        tuning_users=rows(TUNING), evaluation_users=rows(EVALUATION),
        user_factors=factors_from_table(tables["user_factors"], user_ids),
        item_factors=factors_from_table(tables["item_factors"], item_ids),
    )
