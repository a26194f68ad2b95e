"""Input folders for the benchmarks: the bundled sample, or synthetic MovieLens-layout files generated once."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymongo
from psycopg import sql

from spin_reel_assets.devtools.devstores import ensure_postgres, free_port, start_mongo, stop_mongo
from spin_reel_assets.resources import BUNDLED_SAMPLE

REPO = Path(__file__).resolve().parents[1]


def synthetic(ratings: int) -> Path:
    """A folder of ``spin-reel synth`` files with ``ratings`` ratings (cached under .state/bench-data)."""
    folder = REPO / ".state" / "bench-data" / f"synth-{ratings}"
    if not (folder / "ratings.csv").exists():
        subprocess.run([sys.executable, "-m", "spin_reel_assets.devtools.cli", "synth", "--ratings", str(ratings), "--users",
                        str(max(ratings // 150, 100)), "--movies", str(max(ratings // 400, 500)), "--tmdb-movies",
                        str(max(ratings // 25, 2000)), "--out", str(folder), "--quiet"], check=True)
    return folder


def dataset(ratings: int) -> tuple[str, Path]:
    """(label, folder): the bundled sample for 0, else a synthetic folder."""
    return ("bundled sample", BUNDLED_SAMPLE) if ratings == 0 else (f"synthetic {ratings:,}", synthetic(ratings))


@contextmanager
def bench_stores():
    """A throwaway PostgreSQL database and Mongo-compatible server for one benchmark run, removed afterwards.

    Yields (postgres_url, mongo_uri, name, workdir): ``name`` is both databases' name, ``workdir`` a scratch folder.
    """
    server = ensure_postgres()
    name = f"spin_reel_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    work = Path(tempfile.mkdtemp(prefix="spin-reel-bench-"))
    port = int(os.environ.get("SPIN_REEL_BENCH_MONGO_PORT", "0")) or free_port()
    mongo_uri, process = start_mongo(work / "mongo", port=port, storage=str(work / "mongo"))
    try:
        yield f"{server.rpartition('/')[0]}/{name}", mongo_uri, name, work
    finally:
        with pymongo.MongoClient(mongo_uri) as client:  # matters when the server is an existing one (port given)
            client.drop_database(name)
        if process is not None:
            stop_mongo(work / "mongo", port=port)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        shutil.rmtree(work, ignore_errors=True)
