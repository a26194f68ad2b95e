"""Model artifacts saved as folders under the artifacts directory: the Spark ALS model and the FAISS index.

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
from dagster_pyspark import PySparkResource
from upath import UPath

from spin_reel_assets.recommender.spark_als import AlsArtifact, AlsParams


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


class SparkModelIOManager(dg.ConfigurableIOManager):
    """Saves an ``AlsArtifact``: the Spark model (``model.write().save``) under ``<base_dir>/<asset>/model`` and
    its training parameters as ``params.json``; loads both back."""

    base_dir: str
    pyspark: dg.ResourceDependency[PySparkResource]

    def _path(self, context) -> Path:
        return Path(self.base_dir, *context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: AlsArtifact) -> None:
        def build(folder: Path) -> None:
            obj.model.write().save(str(folder / "model"))
            (folder / "params.json").write_text(json.dumps(asdict(obj.params), indent=2))

        target = self._path(context)
        swap_into_place(build, target)
        context.add_output_metadata({"path": str(target), "bytes": dg.MetadataValue.int(folder_size(target))})

    def load_input(self, context: dg.InputContext) -> AlsArtifact:
        from pyspark.ml.recommendation import ALSModel

        folder = self._path(context.upstream_output)
        self.pyspark.spark_session  # the model loader needs an active session
        params = AlsParams(**json.loads((folder / "params.json").read_text()))
        return AlsArtifact(ALSModel.load(str(folder / "model")), params)


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
