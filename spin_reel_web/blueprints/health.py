"""``/healthz``: artifact age and store reachability; 200 when the artifacts are loaded, 503 when not."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from flask import Blueprint, jsonify

from ..recommendations import artifact_store
from ..stores import stores

bp = Blueprint("health", __name__)


def _probe(check: Callable[[], object]) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means unreachable; report it, do not raise
        return {"reachable": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"reachable": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _ping_postgres() -> None:
    with stores().postgres_connect() as connection:
        connection.execute("SELECT 1")


@bp.get("/healthz")
def healthz():
    snapshot = artifact_store().current()
    artifacts: dict = {"loaded": snapshot is not None}
    if snapshot is not None:
        created = snapshot.created_at
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        artifacts.update(
            created_at=created.isoformat() if created else None,
            age_seconds=round((datetime.now(timezone.utc) - created).total_seconds()) if created else None,
            loaded_seconds_ago=round(time.time() - snapshot.loaded_at),
            users=len(snapshot.user_recommendations),
            movies_with_similar=len(snapshot.similar_movies),
            weight=snapshot.weight,
            top_n=snapshot.top_n,
        )
    body = {
        "status": "ok" if snapshot is not None else "unavailable",
        "artifacts": artifacts,
        "mongodb": _probe(lambda: stores().mongo_db().command("ping")),
        "postgresql": _probe(_ping_postgres),
    }
    return jsonify(body), 200 if snapshot is not None else 503
