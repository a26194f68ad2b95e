"""Session fixtures: real PostgreSQL and a real MongoDB-wire server, each test module on its own database."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
import pymongo
import pytest
from psycopg import sql

from spin_reel_assets import devstores

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
TEST_DATA = Path(__file__).resolve().parent / "data"


def _server_url() -> str:
    return os.environ.get("SPIN_REEL_TEST_POSTGRES_URL") or devstores.ensure_postgres()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def mongo_uri():
    if os.environ.get("SPIN_REEL_TEST_MONGO_URI"):
        yield os.environ["SPIN_REEL_TEST_MONGO_URI"]
        return
    with tempfile.TemporaryDirectory(prefix="spin-reel-mongo-") as storage:
        port = int(os.environ.get("SPIN_REEL_TEST_MONGO_PORT", "27019"))
        uri, process = devstores.start_mongo(Path(storage), port=port, storage=storage)
        yield uri
        if process is not None:
            devstores.stop_mongo(Path(storage), port=port)


@pytest.fixture(scope="module")
def postgres_url(postgres_server_url: str):
    """A fresh database for one test module, dropped afterwards."""
    name = f"spin_reel_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = postgres_server_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def mongo_db(mongo_uri: str):
    """A fresh MongoDB database name for one test module, dropped afterwards."""
    name = f"spin_reel_test_{uuid.uuid4().hex[:10]}"
    yield name
    client = pymongo.MongoClient(mongo_uri)
    client.drop_database(name)
    client.close()
