"""ALS factor matrices as plain arrays: what the hybrid needs from a fitted model, without Spark.

``SparkModelIOManager`` saves them as Parquet beside the Spark model; ``AlsFactorsIOManager`` loads them back, so
an asset that only scores with the factors starts no JVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .spark_als import AlsParams


@dataclass(frozen=True)
class FactorTable:
    """Factors of one side (users or items): ``factors[i]`` belongs to ``ids[i]``; ids sorted ascending, unique."""

    ids: np.ndarray  # int64
    factors: np.ndarray  # float32, len(ids) × rank

    def __post_init__(self):
        if self.factors.ndim != 2 or len(self.factors) != len(self.ids):
            raise ValueError(f"factors must be len(ids) × rank, got {self.factors.shape} for {len(self.ids)} ids")
        if len(self.ids) > 1 and not (np.diff(self.ids) > 0).all():
            raise ValueError("ids must be sorted and unique")

    @classmethod
    def from_unsorted(cls, ids: np.ndarray, factors: np.ndarray) -> "FactorTable":
        order = np.argsort(ids, kind="stable")
        return cls(np.asarray(ids, dtype=np.int64)[order], np.asarray(factors, dtype=np.float32)[order])

    @property
    def rank(self) -> int:
        return int(self.factors.shape[1])

    def aligned(self, ids: np.ndarray) -> np.ndarray:
        """The factors of ``ids`` (any order): row i holds the factors of ids[i], NaN when it has none; the numpy
        equivalent of ``spark_als.factor_matrix``."""
        ids = np.asarray(ids, dtype=np.int64)
        matrix = np.full((len(ids), self.rank), np.nan, dtype=np.float32)
        if len(self.ids) == 0 or len(ids) == 0:
            return matrix
        position = np.clip(np.searchsorted(self.ids, ids), 0, len(self.ids) - 1)
        found = self.ids[position] == ids
        matrix[found] = self.factors[position[found]]
        return matrix


@dataclass(frozen=True)
class AlsFactors:
    """A fitted ALS model as factor matrices: user factors, item factors and the parameters they were fitted with."""

    users: FactorTable
    items: FactorTable
    params: AlsParams

    def user_matrix(self, user_ids: np.ndarray) -> np.ndarray:
        return self.users.aligned(user_ids)

    def item_matrix(self, item_ids: np.ndarray) -> np.ndarray:
        return self.items.aligned(item_ids)


def factor_table_to_arrow(table: FactorTable) -> pa.Table:
    """(id int64, factors list<float32>) rows, the Parquet layout of factors everywhere in the project."""
    offsets = pa.array(np.arange(len(table.ids) + 1, dtype=np.int32) * table.rank)
    factors = pa.ListArray.from_arrays(offsets, pa.array(table.factors.astype(np.float32).ravel()))
    return pa.table({"id": pa.array(table.ids, pa.int64()), "factors": factors})


def factor_table_from_arrow(table: pa.Table, rank: int | None = None) -> FactorTable:
    """The FactorTable of ``factor_table_to_arrow`` rows; ``rank`` is derived from the rows when not given."""
    ids = table.column("id").to_numpy().astype(np.int64)
    values = table.column("factors").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    rank = rank if rank is not None else (len(values) // len(ids) if len(ids) else 0)
    return FactorTable.from_unsorted(ids, values.astype(np.float32).reshape(len(ids), rank))
