"""Session fixtures: real PostgreSQL and a real MongoDB-wire server, each test module on its own database."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymongo
import pytest
from psycopg import sql

from spin_reel_assets.devtools import devstores

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
        # A port of its own, so concurrent test sessions never share (and stop) each other's server.
        port = int(os.environ.get("SPIN_REEL_TEST_MONGO_PORT", "0")) or devstores.free_port()
        uri, process = devstores.start_mongo(Path(storage), port=port, storage=storage)
        yield uri
        if process is not None:
            devstores.stop_mongo(Path(storage), port=port)


@contextmanager
def fresh_database(server_url: str):
    """A new PostgreSQL database on ``server_url``'s server, dropped on exit; yields (url, name)."""
    name = f"spin_reel_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}", name
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def postgres_url(postgres_server_url: str):
    """A fresh database for one test module, dropped afterwards."""
    with fresh_database(postgres_server_url) as (url, _):
        yield url


@pytest.fixture(scope="module")
def mongo_db(mongo_uri: str):
    """A fresh MongoDB database name for one test module, dropped afterwards."""
    name = f"spin_reel_test_{uuid.uuid4().hex[:10]}"
    yield name
    client = pymongo.MongoClient(mongo_uri)
    client.drop_database(name)
    client.close()


def spark_config() -> dict:
    from spin_reel_assets.resources import spark_config_from_env

    # Small shuffles and driver memory: the test machine has 2 cores shared with the stores.
    return {**spark_config_from_env(), "spark.sql.shuffle.partitions": "4", "spark.driver.memory": "2g"}


def resources_for(postgres_url: str, mongo_uri: str, mongo_db: str, artifacts_dir: Path, data_dir: Path = SAMPLE_DIR, **overrides):
    from spin_reel_assets.settings import bind_resources

    return bind_resources(postgres_url, mongo_uri, mongo_db, str(data_dir), str(artifacts_dir), spark_config(), overrides)


@pytest.fixture(scope="session")
def materialized(tmp_path_factory, postgres_server_url, mongo_uri):
    """The whole asset graph with its checks, materialized once into fresh stores and a Dagster instance on disk.

    The inputs are a private copy of the bundled sample, observed before the run, so tests may change them.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with fresh_database(postgres_server_url) as (postgres_url, name):
        yield _materialize(tmp_path_factory, postgres_url, mongo_uri, name)
    pymongo.MongoClient(mongo_uri).drop_database(name)


def _materialize(tmp_path_factory, postgres_url, mongo_uri, name) -> "Pipeline":
    import dagster as dg

    from spin_reel_assets.definitions import defs
    from spin_reel_assets.devtools.staleness import observe_sources

    artifacts = tmp_path_factory.mktemp("artifacts")
    data_dir = tmp_path_factory.mktemp("data")
    for path in SAMPLE_DIR.glob("*.csv.gz"):
        shutil.copy(path, data_dir / path.name)
    resources = resources_for(postgres_url, mongo_uri, name, artifacts, data_dir)
    instance = dg.DagsterInstance.local_temp(str(tmp_path_factory.mktemp("dagster_home")),
                                             overrides={"telemetry": {"enabled": False}})
    assets = list(defs().assets)
    observe_sources(instance, assets, resources)
    result = dg.materialize(assets, resources=resources, instance=instance, selection=dg.AssetSelection.all())
    return Pipeline(result, instance, postgres_url, mongo_uri, name, artifacts, resources, data_dir)


class Pipeline:
    """What the session materialization left: the run result, its instance and where everything is."""

    def __init__(self, result, instance, postgres_url, mongo_uri, mongo_db, artifacts, resources, data_dir):
        self.result, self.instance = result, instance
        self.postgres_url, self.mongo_uri, self.mongo_db = postgres_url, mongo_uri, mongo_db
        self.artifacts, self.resources, self.data_dir = artifacts, resources, data_dir

    def metadata(self, asset: str) -> dict:
        events = self.result.asset_materializations_for_node(asset)
        return {key: getattr(value, "value", value) for key, value in events[-1].metadata.items()}


STORE_FIXTURES = {"postgres_server_url", "postgres_url", "mongo_uri", "mongo_db", "materialized", "served_stack"}
SPARK_FIXTURES = {"materialized", "spark_session"}


def pytest_collection_modifyitems(items):
    """Markers from what a test really uses, so `-m "not stores and not spark and not browser"` runs the fast part."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & STORE_FIXTURES:
            item.add_marker(pytest.mark.stores)
        if fixtures & SPARK_FIXTURES:
            item.add_marker(pytest.mark.spark)
