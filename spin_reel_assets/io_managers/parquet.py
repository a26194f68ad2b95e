"""Parquet files on any fsspec filesystem (local folder, shared mount or object store URL).

A ``Cleaned`` output writes its quarantine beside it as ``<name>.quarantine.parquet``. Local writes go to a
temporary file renamed into place, so a reader never sees half a file.
"""


import json
import uuid
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

from spin_reel_assets.cleaning.quarantine import Cleaned


def quarantine_path(path: UPath) -> UPath:
    return path.with_name(path.name.replace(".parquet", ".quarantine.parquet"))


def write_parquet(table: pa.Table, path: UPath) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with temporary.open("wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    temporary.rename(path)


def read_parquet(path: UPath, columns: list[str] | None = None) -> pa.Table:
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=columns)


class ParquetIOManager(dg.UPathIOManager):
    """One asset, one Parquet file; an input may read only some columns with input metadata ``columns``."""

    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pa.Table | Cleaned, path: UPath) -> None:
        table = obj.table if isinstance(obj, Cleaned) else obj
        write_parquet(table, path)
        metadata = {"rows": dg.MetadataValue.int(table.num_rows)}
        if isinstance(obj, Cleaned):
            write_parquet(obj.quarantine, quarantine_path(path))
            metadata["quarantine_path"] = str(quarantine_path(path))
        context.add_output_metadata(metadata)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pa.Table:
        return read_parquet(path, (context.definition_metadata or {}).get("columns"))


class ParquetIOManagerFactory(dg.ConfigurableIOManagerFactory):
    """Parquet files under ``base_path`` (``SPIN_REEL_ARTIFACTS_DIR``: a folder or an fsspec URL such as s3://…)."""

    base_path: str

    def create_io_manager(self, context) -> ParquetIOManager:
        return ParquetIOManager(base_path=UPath(self.base_path))


@dataclass
class ParquetBundle:
    """Several named tables written as ``<folder>/<name>.parquet`` plus a ``manifest.json`` written last."""

    tables: dict[str, pa.Table]
    manifest: dict


class ParquetBundleIOManager(dg.ConfigurableIOManager):
    """A folder of Parquet files (the asset's ``folder`` metadata) under ``base_path``; loads them back."""

    base_path: str

    def _folder(self, context) -> UPath:
        folder = (context.definition_metadata or {}).get("folder")
        if not folder:
            raise dg.DagsterInvariantViolationError(f"asset {context.asset_key.to_user_string()} needs metadata folder=")
        return UPath(self.base_path) / folder

    def handle_output(self, context: dg.OutputContext, obj: ParquetBundle) -> None:
        folder = self._folder(context)
        for name, table in obj.tables.items():
            write_parquet(table, folder / f"{name}.parquet")
        manifest = folder / "manifest.json"
        temporary = manifest.with_name(f".manifest.{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps({**obj.manifest, "files": sorted(f"{n}.parquet" for n in obj.tables)}, indent=2))
        temporary.rename(manifest)
        context.add_output_metadata({"folder": str(folder), **{f"{name}_rows": dg.MetadataValue.int(t.num_rows) for name, t in obj.tables.items()}})

    def load_input(self, context: dg.InputContext) -> ParquetBundle:
        folder = self._folder(context.upstream_output)
        manifest = json.loads((folder / "manifest.json").read_text())
        tables = {name.removesuffix(".parquet"): read_parquet(folder / name) for name in manifest["files"]}
        return ParquetBundle(tables, manifest)
