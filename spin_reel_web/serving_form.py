"""The serving form of the hybrid artifacts: uncompressed Arrow IPC files that every worker memory-maps.

The published artifacts (``hybrid/*.parquet`` + ``manifest.json``) stay the input. Once per artifact version the
first process that needs it builds this form, in a subprocess (``python -m spin_reel_web.serving_form ARTIFACTS
CACHE``) so a worker's memory never holds the build's temporaries: rows sorted by key with one (key, stop) row
per key for binary search, ids and scores as flat numeric columns, and an inverted index per item signal for
the cold start (``cold_start``). It is written to a temporary folder renamed to ``CACHE/<version>`` (atomic: a version folder is
complete or absent), under a file lock, so concurrent workers build it once. The version is a hash of the
source files' (mtime, size, inode): a new materialization is a new version.

A version is only built from a consistent set of files: the pipeline writes each Parquet file atomically and
the manifest last, so a Parquet file newer than the manifest means a materialization is under way (or died):
the previous version stays served. Mapped pages live in the OS page cache, shared by all workers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spin_reel_assets.schema import (
    DEFAULT_SIMILAR_CANDIDATES,
    HYBRID_MANIFEST_PATH,
    ITEM_EMBEDDINGS_PATH,
    MOVIE_ID,
    SIMILAR_MOVIES_PATH,
    USER_ID,
    USER_RECOMMENDATIONS_PATH,
)

from . import ivf

FORMAT = 1  # bump when the layout below changes: older folders are then ignored and rebuilt
SOURCE_PATHS = (USER_RECOMMENDATIONS_PATH, SIMILAR_MOVIES_PATH, ITEM_EMBEDDINGS_PATH, HYBRID_MANIFEST_PATH)
MISSING_ID = -1  # stands for a null id in the int columns
KEPT_VERSIONS = 2  # the current one and the one before (workers that have not switched yet may still map it)
RETRY_EXIT = 75  # EX_TEMPFAIL: the files changed while being read, try again
TABLES = ("users", "users_keys", "similar", "similar_keys", "items", "content", "content_cells", "als")


class InconsistentArtifacts(ValueError):
    """The files are not one materialization (yet): a Parquet file is newer than the manifest."""


def default_cache_dir(artifacts_dir: Path) -> Path:
    return Path(artifacts_dir) / ".serving"


def source_signature(artifacts_dir: Path) -> tuple | None:
    """(mtime_ns, size, inode) of each source file, None while one is missing."""
    try:
        stats = [(Path(artifacts_dir) / path).stat() for path in SOURCE_PATHS]
    except FileNotFoundError:
        return None
    return tuple((stat.st_mtime_ns, stat.st_size, stat.st_ino) for stat in stats)


def check_consistent(signature: tuple) -> None:
    *tables, manifest = signature
    newer = [path for path, stat in zip(SOURCE_PATHS, tables) if stat[0] > manifest[0]]
    if newer:
        raise InconsistentArtifacts(f"{', '.join(newer)} newer than {HYBRID_MANIFEST_PATH}: a materialization is "
                                    "under way or did not finish")


def version_name(signature: tuple) -> str:
    return hashlib.sha256(json.dumps([FORMAT, signature]).encode()).hexdigest()[:16]


# --- reading the published artifacts ---------------------------------------------------------------------

def _read(artifacts_dir: Path, path: str, columns: tuple[str, ...]) -> pa.Table:
    try:
        table = pq.read_table(artifacts_dir / path)
    except (OSError, pa.ArrowException) as error:
        raise ValueError(f"{path}: not a readable Parquet file ({error})") from None
    missing = [column for column in columns if column not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def _ids(table: pa.Table, name: str) -> np.ndarray:
    """Int ids with nulls as MISSING_ID, int32 when they fit (they do for TMDB and MovieLens ids)."""
    values = pc.fill_null(table.column(name), MISSING_ID).to_numpy().astype(np.int64)
    fits = len(values) == 0 or (values.min() >= np.iinfo(np.int32).min and values.max() <= np.iinfo(np.int32).max)
    return values.astype(np.int32) if fits else values


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """float32 with nulls as NaN (rounding to what JSON shows happens per lookup)."""
    return table.column(name).to_numpy(zero_copy_only=False).astype(np.float32)


def _matrix(table: pa.Table, path: str, name: str) -> np.ndarray:
    """A list<float> column as an (n x d) float32 matrix; null lists become NaN rows."""
    lists = table.column(name).combine_chunks()
    valid = ~lists.is_null().to_numpy(zero_copy_only=False)
    lengths = pc.unique(pc.list_value_length(lists).drop_null()).to_pylist()
    if len(lengths) > 1:
        raise ValueError(f"{path}: {name} vectors of different lengths {sorted(lengths)}")
    matrix = np.full((len(lists), lengths[0] if lengths else 0), np.nan, dtype=np.float32)
    matrix[valid] = lists.flatten().to_numpy(zero_copy_only=False).reshape(int(valid.sum()), -1)
    return matrix


def group_rows(keys: np.ndarray, ranks: np.ndarray, columns: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Rows sorted by (key, rank) and the per-key table (``key`` ascending, ``stop``: end of its rows)."""
    keys = np.asarray(keys, dtype=np.int64)
    ordered = np.all((keys[1:] > keys[:-1]) | ((keys[1:] == keys[:-1]) & (ranks[1:] > ranks[:-1])))
    if not ordered:  # the pipeline writes them in this order already: sorting 20M rows is then skipped
        order = np.lexsort((ranks, keys))
        keys, ranks, columns = keys[order], ranks[order], {name: values[order] for name, values in columns.items()}
    unique, starts = np.unique(keys, return_index=True)
    stops = np.append(starts[1:], len(keys)).astype(np.int64)
    return {"rank": ranks.astype(np.int32), **columns}, {"key": unique, "stop": stops}


def build_arrays(artifacts_dir: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Every table of the serving form, and its meta, from the published artifacts."""
    manifest_path = artifacts_dir / HYBRID_MANIFEST_PATH
    try:
        manifest = json.loads(manifest_path.read_text())
        weight, top_n = float(manifest["weight"]), int(manifest["top_n"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{HYBRID_MANIFEST_PATH}: unreadable or without weight/top_n ({error})") from None

    users = _read(artifacts_dir, USER_RECOMMENDATIONS_PATH,
                  (USER_ID, "rank", MOVIE_ID, "score", "content_score", "als_score", "because_tmdb_id"))
    user_rows, user_keys = group_rows(users.column(USER_ID).to_numpy(), users.column("rank").to_numpy(), {
        "tmdb_id": _ids(users, MOVIE_ID), "score": _floats(users, "score"),
        "content_score": _floats(users, "content_score"), "als_score": _floats(users, "als_score"),
        "because_tmdb_id": _ids(users, "because_tmdb_id"),
    })
    del users
    similar = _read(artifacts_dir, SIMILAR_MOVIES_PATH,
                    (MOVIE_ID, "rank", "similar_tmdb_id", "score", "content_score", "als_score"))
    similar_rows, similar_keys = group_rows(similar.column(MOVIE_ID).to_numpy(), similar.column("rank").to_numpy(), {
        "tmdb_id": _ids(similar, "similar_tmdb_id"), "score": _floats(similar, "score"),
        "content_score": _floats(similar, "content_score"), "als_score": _floats(similar, "als_score"),
    })
    del similar
    embeddings = _read(artifacts_dir, ITEM_EMBEDDINGS_PATH, (MOVIE_ID, "content", "als"))
    if "movies" in manifest and embeddings.num_rows != manifest["movies"]:
        raise ValueError(f"{ITEM_EMBEDDINGS_PATH} has {embeddings.num_rows} rows, {HYBRID_MANIFEST_PATH} says "
                         f"{manifest['movies']} movies: files of different materializations")
    tmdb_ids = embeddings.column(MOVIE_ID).to_numpy().astype(np.int64)
    content = _matrix(embeddings, ITEM_EMBEDDINGS_PATH, "content")
    als = _matrix(embeddings, ITEM_EMBEDDINGS_PATH, "als")
    del embeddings
    order = np.argsort(tmdb_ids, kind="stable")
    content_index, als_index = ivf.build(content), ivf.build_norm_ordered(als)
    del content, als
    tables = {
        "users": user_rows, "users_keys": user_keys, "similar": similar_rows, "similar_keys": similar_keys,
        "items": {"tmdb_id": tmdb_ids, "sorted_tmdb_id": tmdb_ids[order], "sorted_row": order.astype(np.int64),
                  "content_position": _positions(content_index["items"], len(tmdb_ids)),
                  "als_position": _positions(als_index["items"], len(tmdb_ids))},
        "content": {"items": content_index["items"], "vectors": content_index["vectors"]},
        "content_cells": {"centroids": content_index["centroids"], "stops": content_index["stops"]},
        "als": als_index,
    }
    created_at = manifest.get("created_at")
    meta = {"format": FORMAT, "weight": weight, "top_n": top_n, "created_at": created_at,
            "movies": len(tmdb_ids), "similar_candidates": int(manifest.get("similar_candidates", DEFAULT_SIMILAR_CANDIDATES))}
    return tables, meta


def _positions(items: np.ndarray, n: int) -> np.ndarray:
    """item row -> its position in an index's order, -1 for rows the index does not hold."""
    position = np.full(n, -1, dtype=np.int64)
    position[items] = np.arange(len(items))
    return position


# --- the IPC files ------------------------------------------------------------------------------------------

def _arrow(values: np.ndarray) -> pa.Array:
    if values.ndim == 2:
        return pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), values.shape[1])
    return pa.array(values)


def write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    batch = pa.record_batch([_arrow(values) for values in columns.values()], names=list(columns))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)


def map_table(path: Path) -> dict[str, np.ndarray]:
    """The columns of an IPC file as read-only numpy views of its memory map (no copy, no per-row objects)."""
    with pa.memory_map(str(path)) as source:
        batch = pa.ipc.open_file(source).get_batch(0)
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns):
        if pa.types.is_fixed_size_list(column.type):
            width = column.type.list_size
            columns[name] = column.values.to_numpy(zero_copy_only=True).reshape(len(column), width)
        else:
            columns[name] = column.to_numpy(zero_copy_only=True)
    return columns


def write_version(folder: Path, tables: dict[str, dict[str, np.ndarray]], meta: dict) -> None:
    folder.mkdir(parents=True)
    for name, columns in tables.items():
        write_table(folder / f"{name}.arrow", columns)
    (folder / "meta.json").write_text(json.dumps(meta))


def open_version(folder: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """The mapped tables and meta of a version folder; ValueError when it is not a complete one of this format."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder}: format {meta.get('format')}, not {FORMAT}")
        tables = {name: map_table(folder / f"{name}.arrow") for name in TABLES}
    except (OSError, KeyError, IndexError, TypeError, json.JSONDecodeError, pa.ArrowException) as error:
        raise ValueError(f"{folder}: not a complete serving form ({error})") from None
    return tables, meta


# --- building a version once, atomically ---------------------------------------------------------------------

def build(artifacts_dir: Path, cache_dir: Path) -> Path:
    """The folder of the serving form of the artifacts as they are now, built unless it exists."""
    artifacts_dir, cache_dir = Path(artifacts_dir), Path(cache_dir)
    signature = source_signature(artifacts_dir)
    if signature is None:
        raise FileNotFoundError(f"{artifacts_dir}: no complete set of {', '.join(SOURCE_PATHS)}")
    check_consistent(signature)
    folder = cache_dir / version_name(signature)
    if (folder / "meta.json").exists():
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others find its result below
        if (folder / "meta.json").exists():
            return folder
        for stale in cache_dir.glob(".tmp-*"):  # left by a builder that was killed (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tables, meta = build_arrays(artifacts_dir)
        if source_signature(artifacts_dir) != signature:
            raise InterruptedError(f"{artifacts_dir}: the artifacts changed while being read")
        temporary = cache_dir / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            write_version(temporary, tables, {**meta, "source": signature})
            temporary.rename(folder)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        older = sorted((path for path in cache_dir.iterdir() if path.is_dir() and path != folder and not path.name.startswith(".")),
                       key=lambda path: path.stat().st_mtime_ns)
        for path in older[: max(0, len(older) - (KEPT_VERSIONS - 1))]:
            shutil.rmtree(path, ignore_errors=True)  # workers still mapping it keep their pages until they unmap
    return folder


def build_in_subprocess(artifacts_dir: Path, cache_dir: Path) -> Path:
    """``build`` in a child process, so the build's transient memory never stays in a serving worker.

    Raises InconsistentArtifacts / InterruptedError (try later) or ValueError (the artifacts are broken)."""
    package_root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    code = "import sys; from spin_reel_web.serving_form import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", code, str(artifacts_dir), str(cache_dir)],
                            capture_output=True, text=True, env=env)
    message = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
    if result.returncode == RETRY_EXIT:
        raise InterruptedError(message)
    if result.returncode != 0:
        raise ValueError(message)
    return Path(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m spin_reel_web.serving_form ARTIFACTS_DIR CACHE_DIR", file=sys.stderr)
        return 2
    artifacts_dir, cache_dir = args
    try:
        print(build(Path(artifacts_dir), Path(cache_dir)))
    except (InconsistentArtifacts, InterruptedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return RETRY_EXIT
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
