"""Web fixtures: ``served_stack`` (the sample stack in real PostgreSQL and MongoDB, built once for tests/web) and
Flask apps serving it."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pymongo
import pytest
from psycopg import sql

from spin_reel_web import create_app
from tests.web.sample_stack import SampleStack, build_stack


@pytest.fixture(scope="package")
def served_stack(postgres_server_url: str, mongo_uri: str, tmp_path_factory) -> SampleStack:
    """Built once for all web tests (it takes seconds): a database of its own on the session's servers."""
    name = f"spin_reel_web_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield build_stack(tmp_path_factory.mktemp("artifacts"), mongo_uri, name, f"{postgres_server_url.rpartition('/')[0]}/{name}")
    finally:
        client = pymongo.MongoClient(mongo_uri)
        client.drop_database(name)
        client.close()
        with psycopg.connect(postgres_server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="package")
def app(served_stack: SampleStack):
    return create_app(served_stack.app_config())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="package")
def closed_port() -> int:
    """A local port nothing listens on (bound and closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
