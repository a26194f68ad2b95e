"""Application settings, read from the environment (``SPIN_REEL_*``) when the app is created."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

from spin_reel_assets.schema import DEFAULT_ARTIFACTS_DIR, DEFAULT_MONGO_DB, DEFAULT_MONGO_URI, DEFAULT_POSTGRES_URL

log = logging.getLogger(__name__)


def from_env(environ: Mapping[str, str] = os.environ) -> dict:
    """Flask config keys for this app; every value can be overridden by ``create_app(test_config)``."""
    return {
        "SECRET_KEY": environ.get("SPIN_REEL_SECRET_KEY") or None,
        "ARTIFACTS_DIR": environ.get("SPIN_REEL_ARTIFACTS_DIR", DEFAULT_ARTIFACTS_DIR),
        "MONGO_URI": environ.get("SPIN_REEL_MONGO_URI", DEFAULT_MONGO_URI),
        "MONGO_DB": environ.get("SPIN_REEL_MONGO_DB", DEFAULT_MONGO_DB),
        "POSTGRES_URL": environ.get("SPIN_REEL_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        # Connect / server-selection timeout: a store that is down costs a page at most this long.
        "STORE_TIMEOUT_SECONDS": float(environ.get("SPIN_REEL_STORE_TIMEOUT_SECONDS", "1.5")),
        # After a store failed, skip it for this long instead of paying the timeout on every request.
        "STORE_RETRY_SECONDS": float(environ.get("SPIN_REEL_STORE_RETRY_SECONDS", "5")),
        # PostgreSQL connections per process; gunicorn.conf.py sets it to its threads per worker.
        "POSTGRES_POOL_SIZE": 4,
        # Where this process builds the serving form when the pipeline did not (default: ARTIFACTS_DIR/.serving,
        # where the pipeline's serving_form asset puts it); for an artifacts directory this process cannot write.
        "SERVING_DIR": environ.get("SPIN_REEL_SERVING_DIR") or None,
        # How often the artifact files' mtimes are checked for a reload.
        "ARTIFACT_CHECK_SECONDS": float(environ.get("SPIN_REEL_ARTIFACT_CHECK_SECONDS", "1")),
        # How long movie documents read from MongoDB are reused by this process.
        "MOVIE_CACHE_SECONDS": float(environ.get("SPIN_REEL_MOVIE_CACHE_SECONDS", "300")),
    }


def ensure_secret_key(config: dict[str, Any]) -> None:
    """A random per-process key when none is configured (sessions then do not survive a restart)."""
    if not config.get("SECRET_KEY"):
        log.warning("SPIN_REEL_SECRET_KEY is not set: using a random secret key for this process")
        config["SECRET_KEY"] = secrets.token_hex(32)
