"""Serialized JSON bodies of the hot API routes, reused while the artifacts and movie cards they hold are current."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable

from cachetools import TTLCache

MAX_ENTRIES = 20_000


class ResponseCache:
    """Bodies keyed by route arguments, valid for one artifacts snapshot and at most ``seconds`` (the movie-card
    cache's lifetime, so a cached body is never staler than a freshly built one could be). When full, the least
    recently used body makes room."""

    def __init__(self, seconds: float, max_entries: int = MAX_ENTRIES):
        self._bodies: TTLCache[Hashable, bytes] = TTLCache(maxsize=max_entries, ttl=seconds)
        # Weak: the cache must not keep a replaced artifacts snapshot (and its memory-mapped files) alive.
        self._snapshot: weakref.ref | None = None
        self._lock = threading.Lock()  # a TTLCache reorders itself on every read

    def get(self, snapshot: object, key: Hashable) -> bytes | None:
        with self._lock:
            if self._snapshot is None or snapshot is not self._snapshot():
                return None
            try:
                return self._bodies[key]  # a quarter of the time of .get(), which tests membership first
            except KeyError:
                return None

    def put(self, snapshot: object, key: Hashable, body: bytes) -> None:
        with self._lock:
            if self._snapshot is None or snapshot is not self._snapshot():
                self._bodies.clear()
                self._snapshot = weakref.ref(snapshot)
            self._bodies[key] = body
