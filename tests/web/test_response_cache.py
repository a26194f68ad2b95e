"""The cache of serialized API bodies: per artifacts snapshot, expiring, never holding a degraded answer."""

from __future__ import annotations

import gc
import time
import weakref

from spin_reel_web import create_app
from spin_reel_web.response_cache import ResponseCache


class Snapshot:
    """Stands for an artifacts snapshot: any object the store hands out per version."""


def test_bodies_belong_to_one_snapshot_and_expire():
    cache, first, second = ResponseCache(seconds=0.2), Snapshot(), Snapshot()
    cache.put(first, ("user", 1, 20), b"one")
    assert cache.get(first, ("user", 1, 20)) == b"one"
    assert cache.get(first, ("user", 1, 5)) is None
    assert cache.get(second, ("user", 1, 20)) is None  # reloaded artifacts
    cache.put(second, ("user", 2, 20), b"two")
    assert cache.get(first, ("user", 1, 20)) is None and cache.get(second, ("user", 2, 20)) == b"two"
    time.sleep(0.25)
    assert cache.get(second, ("user", 2, 20)) is None


def test_the_cache_never_keeps_a_replaced_snapshot_alive():
    """A reloaded version's memory-mapped files are released once no request holds the old snapshot."""
    cache, snapshot = ResponseCache(seconds=60), Snapshot()
    cache.put(snapshot, ("user", 1, 20), b"one")
    gone = weakref.ref(snapshot)
    del snapshot
    gc.collect()
    assert gone() is None


def test_cached_api_body_is_the_fresh_one(client):
    first = client.get("/api/users/7/recommendations?n=4")
    second = client.get("/api/users/7/recommendations?n=4")
    assert first.get_data() == second.get_data() and second.mimetype == "application/json"
    assert len(client.get("/api/users/7/recommendations?n=2").get_json()["recommendations"]) == 2


def test_answers_with_notices_are_not_cached(served_stack, closed_port):
    healthy = create_app(served_stack.app_config())
    degraded = create_app(served_stack.app_config(MONGO_URI=f"mongodb://127.0.0.1:{closed_port}", STORE_TIMEOUT_SECONDS=0.3))
    for app in (healthy, degraded):
        app.test_client().get("/api/users/7/recommendations")
    cached = {
        app: app.extensions["spin_reel_responses"].get(app.extensions["spin_reel_artifacts"].current(), ("user", 7, 20))
        for app in (healthy, degraded)
    }
    assert cached[healthy] is not None and cached[degraded] is None


def test_a_full_cache_drops_the_least_recently_used_body():
    cache, snapshot = ResponseCache(seconds=60, max_entries=3), Snapshot()
    for user_id in (1, 2, 3):
        cache.put(snapshot, ("user", user_id, 20), b"%d" % user_id)
    assert cache.get(snapshot, ("user", 1, 20)) == b"1"  # now the most recently used
    cache.put(snapshot, ("user", 4, 20), b"4")
    assert [cache.get(snapshot, ("user", user_id, 20)) for user_id in (1, 2, 3, 4)] == [b"1", None, b"3", b"4"]
