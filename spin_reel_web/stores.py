"""Connections to MongoDB and PostgreSQL, and what a page does when one of them is down.

Both are pools, one per app, created on first use: the MongoClient, and a psycopg ConnectionPool from which each
request takes one connection on ``flask.g`` (returned at teardown). Driver errors are sorted by what they say
about the store:

- an outage (connection refused, lost or timed out, no pooled connection in time): the page gets a notice and the
  store is skipped for ``STORE_RETRY_SECONDS``, so a down store costs one short timeout, not one per request;
- the store is up but could not answer this request (statement timeout, tables not loaded yet): a notice for this
  request only, the next request tries again;
- anything else (a query the store rejects, such as a DataError) is a bug, not an outage: it propagates as a 500.
  Input the stores cannot take never gets here: ``validation`` answers it with a 400."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import psycopg.errors
import pymongo
import pymongo.errors
from flask import Flask, current_app, g
from psycopg_pool import ConnectionPool
from pymongo.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

MONGO, POSTGRES, ARTIFACTS = "MongoDB", "PostgreSQL", "artifacts"
NOTICES = {
    ARTIFACTS: "Recommendations are not available yet: the hybrid recommender's artifacts are not loaded.",
    MONGO: "MongoDB is unreachable right now: movie titles, posters and details may be missing.",
    POSTGRES: "PostgreSQL is unreachable right now: rating history and rating statistics are not shown.",
}
UNANSWERED_NOTICES = {
    MONGO: "MongoDB could not answer this request: movie titles, posters and details may be missing.",
    POSTGRES: "PostgreSQL could not answer this request: rating history and rating statistics are not shown.",
}

# (outages, failures of one request): checked in this order, since QueryCanceled is an OperationalError too.
POSTGRES_ERRORS = (
    (psycopg.errors.QueryCanceled, psycopg.errors.UndefinedTable),
    (psycopg.OperationalError, psycopg.InterfaceError),  # includes psycopg_pool.PoolTimeout
)
MONGO_ERRORS = (
    (pymongo.errors.ExecutionTimeout,),
    (pymongo.errors.ConnectionFailure, pymongo.errors.ConfigurationError),  # includes ServerSelectionTimeoutError
)


class StoreHealth:
    """When a store last failed; calls are skipped until ``retry_seconds`` have passed."""

    def __init__(self, name: str, retry_seconds: float):
        self.name = name
        self.retry_seconds = retry_seconds
        self._skip_until = 0.0

    def available(self) -> bool:
        return time.monotonic() >= self._skip_until

    def failed(self, error: Exception) -> None:
        if self.available():
            log.warning("%s failed (%s): skipping it for %.0f s", self.name, error, self.retry_seconds)
        self._skip_until = time.monotonic() + self.retry_seconds

    def recovered(self) -> None:
        self._skip_until = 0.0


class Stores:
    """Per-app store state, kept in ``app.extensions["spin_reel_stores"]``."""

    def __init__(self, app: Flask):
        self.config = app.config
        retry = app.config["STORE_RETRY_SECONDS"]
        self.health = {MONGO: StoreHealth(MONGO, retry), POSTGRES: StoreHealth(POSTGRES, retry)}
        self._mongo_client: pymongo.MongoClient | None = None
        self._postgres_pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def mongo_db(self) -> Database:
        if self._mongo_client is None:
            with self._lock:
                if self._mongo_client is None:
                    timeout_ms = int(self.config["STORE_TIMEOUT_SECONDS"] * 1000)
                    self._mongo_client = pymongo.MongoClient(
                        self.config["MONGO_URI"],
                        serverSelectionTimeoutMS=timeout_ms,
                        connectTimeoutMS=timeout_ms,
                        socketTimeoutMS=5 * timeout_ms,
                        appname="spin-reel-web",
                    )
        return self._mongo_client[self.config["MONGO_DB"]]

    def _postgres_options(self) -> dict:
        # libpq counts connect_timeout in whole seconds, with 2 s as the minimum it honours.
        return {
            "connect_timeout": max(2, round(self.config["STORE_TIMEOUT_SECONDS"])),
            "autocommit": True,
            "options": "-c statement_timeout=5000",
        }

    def postgres_connect(self) -> psycopg.Connection:
        """A connection of its own, outside the pool (the health probe's, to report the server's own error)."""
        return psycopg.connect(self.config["POSTGRES_URL"], **self._postgres_options())

    def postgres_pool(self) -> ConnectionPool:
        if self._postgres_pool is None:
            with self._lock:
                if self._postgres_pool is None:
                    retry = self.config["STORE_RETRY_SECONDS"]
                    pool = ConnectionPool(
                        self.config["POSTGRES_URL"],
                        kwargs=self._postgres_options(),
                        # Connections are opened as requests need them (none at start), at most one per thread.
                        min_size=0,
                        max_size=self.config["POSTGRES_POOL_SIZE"],
                        timeout=self.config["STORE_TIMEOUT_SECONDS"],
                        # A pooled connection the server dropped (restart) is replaced, not counted as an outage.
                        check=ConnectionPool.check_connection,
                        # While the server is down, stop retrying in the background once the store is skipped;
                        # the first request after the skip starts a fresh attempt, so recovery is seen at once.
                        reconnect_timeout=retry,
                        name="spin-reel-web",
                        open=False,
                    )
                    pool.open(wait=False)
                    self._postgres_pool = pool
        return self._postgres_pool


def init_app(app: Flask) -> None:
    app.extensions["spin_reel_stores"] = Stores(app)
    app.teardown_appcontext(_return_postgres)


def stores() -> Stores:
    return current_app.extensions["spin_reel_stores"]


def _postgres() -> psycopg.Connection:
    if "postgres" not in g:
        pool = stores().postgres_pool()
        g.postgres = (pool, pool.getconn())
    return g.postgres[1]


def _return_postgres(_error: BaseException | None = None) -> None:
    taken = g.pop("postgres", None)
    if taken is not None:
        pool, connection = taken
        pool.putconn(connection)


def _attempt(name: str, errors: tuple[tuple, tuple], call: Callable[[], T], default: T) -> T:
    health = stores().health[name]
    unanswered, outages = errors
    if health.available() and reachable(name):
        try:
            result = call()
        except unanswered as error:
            log.warning("%s could not answer (%s)", name, error)
            mark_unavailable(name, UNANSWERED_NOTICES[name])
            return default
        except outages as error:
            health.failed(error)
        else:
            health.recovered()
            return result
    mark_unavailable(name)
    return default


def with_mongo(call: Callable[[Database], T], default: T) -> T:
    """``call(db)``, or ``default`` plus a notice when MongoDB is unreachable or could not answer."""
    return _attempt(MONGO, MONGO_ERRORS, lambda: call(stores().mongo_db()), default)


def with_postgres(call: Callable[[psycopg.Connection], T], default: T) -> T:
    """``call(connection)``, or ``default`` plus a notice when PostgreSQL is unreachable or could not answer."""
    return _attempt(POSTGRES, POSTGRES_ERRORS, lambda: call(_postgres()), default)


def mark_unavailable(name: str, notice: str | None = None) -> None:
    """Records for this request that ``name`` is missing, with the notice to show (the outage one by default)."""
    g.setdefault("failed_stores", {}).setdefault(name, notice or NOTICES[name])


def reachable(name: str) -> bool:
    """False once a call to the store failed or was skipped during this request."""
    return name not in g.get("failed_stores", {})


def notices() -> list[str]:
    """What the page or response is missing, for a visible notice."""
    failed = g.get("failed_stores", {})
    return [failed[name] for name in (ARTIFACTS, MONGO, POSTGRES) if name in failed]
