"""Model artifacts saved as folders under the artifacts directory: the Spark ALS model (with its factor matrices
as Parquet) and the FAISS index.

On a filesystem each is written to a temporary folder and swapped into place, so a failed save keeps the previous
model. The FAISS index may also live on an object store (an fsspec URL such as s3://…): it is built locally and
uploaded. The Spark model is written by Spark itself, so its folder must be a path the driver and executors share.
"""

import io
import json
import os
import pickle
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import dagster as dg
import faiss
import numpy as np
import pyarrow.parquet as pq
from dagster_pyspark import LazyPySparkResource
from upath import UPath

from spin_reel_assets.recommender.factors import AlsFactors, FactorTable, factor_table_from_arrow, factor_table_to_arrow
from spin_reel_assets.recommender.spark_als import AlsArtifact, AlsParams

# Beside the Spark model: the factor matrices as (id int64, factors list<float32>) rows sorted by id, so readers
# of the factors need no JVM.
USER_FACTORS_FILE = "user_factors.parquet"
ITEM_FACTORS_FILE = "item_factors.parquet"
PARAMS_FILE = "params.json"


def swap_into_place(build, target: Path) -> None:
    """Run ``build(folder)`` on a fresh sibling folder, then replace ``target`` with it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        build(staging)
        previous = target.with_name(f".{target.name}.old.{uuid.uuid4().hex[:8]}")
        if target.exists():
            os.rename(target, previous)
        os.rename(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def publish_folder(build, target: UPath) -> None:
    """``build(folder)`` a local folder, then make it ``target``: swapped in locally, uploaded to an object store."""
    if is_local(target):
        swap_into_place(build, Path(target.path))
        return
    with tempfile.TemporaryDirectory() as local:
        folder = Path(local, "artifact")
        build(folder)
        if target.exists():
            target.fs.rm(target.path, recursive=True)
        for file in folder.rglob("*"):
            if file.is_file():
                (target / file.relative_to(folder).as_posix()).write_bytes(file.read_bytes())


def spark_factor_table(factors_df) -> FactorTable:
    """A Spark factors DataFrame (id, features array<float>) as a FactorTable, through Arrow (no Python rows)."""
    table = factors_df.select("id", "features").toArrow()
    values = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    ids = table.column("id").to_numpy().astype(np.int64)
    rank = len(values) // len(ids) if len(ids) else 0
    return FactorTable.from_unsorted(ids, values.reshape(len(ids), rank))


def write_factors(folder: Path, factors: AlsFactors) -> None:
    """``params.json``, ``user_factors.parquet`` and ``item_factors.parquet`` into ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PARAMS_FILE).write_text(json.dumps(asdict(factors.params), indent=2))
    pq.write_table(factor_table_to_arrow(factors.users), folder / USER_FACTORS_FILE, compression="zstd")
    pq.write_table(factor_table_to_arrow(factors.items), folder / ITEM_FACTORS_FILE, compression="zstd")


def read_factors(folder: Path) -> AlsFactors:
    """The factors and parameters that ``write_factors`` (or ``SparkModelIOManager``) saved in ``folder``."""
    params = AlsParams(**json.loads((folder / PARAMS_FILE).read_text()))
    missing = [name for name in (USER_FACTORS_FILE, ITEM_FACTORS_FILE) if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: no {', '.join(missing)} (saved before factors were written as Parquet? "
                                "re-materialize the ALS model)")
    return AlsFactors(factor_table_from_arrow(pq.read_table(folder / USER_FACTORS_FILE), params.rank),
                      factor_table_from_arrow(pq.read_table(folder / ITEM_FACTORS_FILE), params.rank), params)


class SparkModelIOManager(dg.ConfigurableIOManager):
    """Saves an ``AlsArtifact``: the Spark model (``model.write().save``) under ``<base_dir>/<asset>/model``, its
    training parameters as ``params.json`` and its factors as ``user_factors.parquet`` / ``item_factors.parquet``;
    loads the Spark model back. Consumers that only need the factors load them with ``AlsFactorsIOManager``
    (``dg.AssetIn(input_manager_key=...)``), which needs no Spark session."""

    base_dir: str
    pyspark: dg.ResourceDependency[LazyPySparkResource]

    def _path(self, context) -> Path:
        return Path(self.base_dir, *context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: AlsArtifact) -> None:
        factors = AlsFactors(spark_factor_table(obj.model.userFactors), spark_factor_table(obj.model.itemFactors),
                             obj.params)

        def build(folder: Path) -> None:
            obj.model.write().save(str(folder / "model"))
            write_factors(folder, factors)

        target = self._path(context)
        swap_into_place(build, target)
        context.add_output_metadata({"path": str(target), "bytes": dg.MetadataValue.int(folder_size(target)),
                                     "factor_files": f"{USER_FACTORS_FILE}, {ITEM_FACTORS_FILE}"})

    def load_input(self, context: dg.InputContext) -> AlsArtifact:
        from pyspark.ml.recommendation import ALSModel

        folder = self._path(context.upstream_output)
        self.pyspark.spark_session  # the model loader needs an active session
        params = AlsParams(**json.loads((folder / PARAMS_FILE).read_text()))
        return AlsArtifact(ALSModel.load(str(folder / "model")), params)


class AlsFactorsIOManager(dg.ConfigurableIOManager):
    """``AlsFactors`` in ``<base_dir>/<asset>`` (``params.json`` and the two factor Parquet files), without Spark.

    As an input manager over ``SparkModelIOManager``'s folders (same ``base_dir``) it reads a Spark model's factors;
    as an IO manager it saves factors fitted elsewhere (a folder without the Spark ``model``).
    """

    base_dir: str

    def _path(self, context) -> Path:
        return Path(self.base_dir, *context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: AlsFactors) -> None:
        target = self._path(context)
        swap_into_place(lambda folder: write_factors(folder, obj), target)
        context.add_output_metadata({"path": str(target), "bytes": dg.MetadataValue.int(folder_size(target))})

    def load_input(self, context: dg.InputContext) -> AlsFactors:
        return read_factors(self._path(context.upstream_output))


@dataclass
class ContentIndex:
    """A FAISS index over content vectors, the tmdb_id of every index row, and the fitted text model."""

    index: faiss.Index
    ids: np.ndarray  # int64, row i of the index is movie ids[i]
    model: object  # recommender.content.ContentModel: embeds new text into the same space

    def vectors(self) -> np.ndarray:
        return self.index.reconstruct_n(0, self.index.ntotal)


class FaissIndexIOManager(dg.ConfigurableIOManager):
    """Saves a ``ContentIndex`` as ``index.faiss`` (write_index), ``ids.npy`` and ``content_model.pkl`` under
    ``<base_dir>/<asset>``; ``base_dir`` is a folder or an fsspec URL."""

    base_dir: str

    def _path(self, context) -> UPath:
        return UPath(self.base_dir).joinpath(*context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: ContentIndex) -> None:
        def build(folder: Path) -> None:
            folder.mkdir(parents=True)
            faiss.write_index(obj.index, str(folder / "index.faiss"))
            np.save(folder / "ids.npy", obj.ids.astype(np.int64))
            with open(folder / "content_model.pkl", "wb") as handle:
                pickle.dump(obj.model, handle, protocol=pickle.HIGHEST_PROTOCOL)

        target = self._path(context)
        publish_folder(build, target)
        size = sum(target.joinpath(name).stat().st_size for name in ("index.faiss", "ids.npy", "content_model.pkl"))
        context.add_output_metadata({"path": str(target), "bytes": dg.MetadataValue.int(size)})

    def load_input(self, context: dg.InputContext) -> ContentIndex:
        folder = self._path(context.upstream_output)
        model = pickle.loads((folder / "content_model.pkl").read_bytes())  # written by this pipeline only
        index = faiss.deserialize_index(np.frombuffer((folder / "index.faiss").read_bytes(), dtype=np.uint8))
        return ContentIndex(index, np.load(io.BytesIO((folder / "ids.npy").read_bytes())), model)
