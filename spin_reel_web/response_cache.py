"""Serialized JSON bodies of the hot API routes, reused while the artifacts and movie cards they hold are current."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

MAX_ENTRIES = 20_000


class ResponseCache:
    """Bodies keyed by route arguments, valid for one artifacts snapshot and at most ``seconds`` (the movie-card
    cache's lifetime, so a cached body is never staler than a freshly built one could be)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._bodies: dict[Hashable, tuple[float, bytes]] = {}
        self._snapshot: object = None
        self._lock = threading.Lock()

    def get(self, snapshot: object, key: Hashable) -> bytes | None:
        entry = self._bodies.get(key) if snapshot is self._snapshot else None
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def put(self, snapshot: object, key: Hashable, body: bytes) -> None:
        with self._lock:
            if snapshot is not self._snapshot or len(self._bodies) >= MAX_ENTRIES:
                self._bodies = {}
                self._snapshot = snapshot
            self._bodies[key] = (time.monotonic() + self.seconds, body)
