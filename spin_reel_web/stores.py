"""Connections to MongoDB and PostgreSQL, and what a page does when one of them is down.

The MongoClient is a connection pool: one per app, created on first use. PostgreSQL connections are opened
per request on ``flask.g`` and closed at teardown. A failing store is recorded as a notice for the page and
skipped for ``STORE_RETRY_SECONDS``, so a down store costs one short timeout, not one per request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import pymongo
import pymongo.errors
from flask import Flask, current_app, g
from pymongo.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

MONGO, POSTGRES, ARTIFACTS = "MongoDB", "PostgreSQL", "artifacts"
NOTICES = {
    ARTIFACTS: "Recommendations are not available yet: the hybrid recommender's artifacts are not loaded.",
    MONGO: "MongoDB is unreachable right now: movie titles, posters and details may be missing.",
    POSTGRES: "PostgreSQL is unreachable right now: rating history and rating statistics are not shown.",
}


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
        self._mongo_lock = threading.Lock()

    def mongo_db(self) -> Database:
        if self._mongo_client is None:
            with self._mongo_lock:
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

    def postgres_connect(self) -> psycopg.Connection:
        # libpq counts connect_timeout in whole seconds, with 2 s as the minimum it honours.
        return psycopg.connect(
            self.config["POSTGRES_URL"],
            connect_timeout=max(2, round(self.config["STORE_TIMEOUT_SECONDS"])),
            autocommit=True,
            options="-c statement_timeout=5000",
        )


def init_app(app: Flask) -> None:
    app.extensions["spin_reel_stores"] = Stores(app)
    app.teardown_appcontext(_close_postgres)


def stores() -> Stores:
    return current_app.extensions["spin_reel_stores"]


def _postgres() -> psycopg.Connection:
    if "postgres" not in g:
        g.postgres = stores().postgres_connect()
    return g.postgres


def _close_postgres(_error: BaseException | None = None) -> None:
    connection = g.pop("postgres", None)
    if connection is not None:
        connection.close()


def _attempt(name: str, errors: tuple[type[Exception], ...], call: Callable[[], T], default: T) -> T:
    health = stores().health[name]
    if health.available() and name not in g.setdefault("failed_stores", set()):
        try:
            result = call()
        except errors as error:
            health.failed(error)
        else:
            health.recovered()
            return result
    mark_unavailable(name)
    return default


def with_mongo(call: Callable[[Database], T], default: T) -> T:
    """``call(db)``, or ``default`` plus a notice when MongoDB is unreachable."""
    return _attempt(MONGO, (pymongo.errors.PyMongoError,), lambda: call(stores().mongo_db()), default)


def with_postgres(call: Callable[[psycopg.Connection], T], default: T) -> T:
    """``call(connection)``, or ``default`` plus a notice when PostgreSQL is unreachable or the query fails."""
    return _attempt(POSTGRES, (psycopg.Error,), lambda: call(_postgres()), default)


def mark_unavailable(name: str) -> None:
    g.setdefault("failed_stores", set()).add(name)


def reachable(name: str) -> bool:
    """False once a call to the store failed or was skipped during this request."""
    return name not in g.get("failed_stores", ())


def notices() -> list[str]:
    """What the page or response is missing, for a visible notice."""
    return [NOTICES[name] for name in (ARTIFACTS, MONGO, POSTGRES) if not reachable(name)]
