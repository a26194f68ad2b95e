"""Movie metadata from the MongoDB ``movies`` collection: lookups by id (cached per process), prefix search, popular."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import date, datetime

from pymongo.database import Database

from spin_reel_assets.schema import MOVIE_ID, MOVIES_COLLECTION
from spin_reel_assets.titles import normalize_title

from .stores import with_mongo

POSTER_BASE_URL = "https://image.tmdb.org/t/p/w342"
CACHE_MAX_ENTRIES = 50_000
POPULAR_CACHE_SECONDS = 60.0
POPULAR_ORDER = [("popularity", -1), ("_id", 1)]  # most popular first; an index of MOVIES_COLLECTION has exactly these keys


def title_prefix_filter(prefix: str) -> dict:
    """Normalized titles starting with ``prefix``, as a key range on ``title_lower``: both MongoDB and SecantusDB
    serve a range from the index, whereas SecantusDB scans the collection for an anchored ``$regex``. Strings
    compare by code point and U+10FFFF is the last one, so the range holds every title with this prefix (bar one
    continuing with that noncharacter)."""
    return {"title_lower": {"$gte": prefix, "$lt": prefix + "\U0010ffff"}}


def poster_url(poster_path: str | None) -> str | None:
    return f"{POSTER_BASE_URL}{poster_path}" if poster_path else None


def to_movie(document: dict) -> dict:
    """A MongoDB document as JSON-safe data: ``_id`` renamed to tmdb_id, dates as ISO strings, poster URL added."""
    movie = {MOVIE_ID: document["_id"]}
    for key, value in document.items():
        if isinstance(value, datetime):
            value = value.date()
        if key != "_id":
            movie[key] = value.isoformat() if isinstance(value, date) else value
    movie["poster_url"] = poster_url(document.get("poster_path"))
    return movie


class MovieCatalog:
    """Reads movies from MongoDB. Documents fetched by id are reused for ``cache_seconds`` (also the ids that
    were not found), so the hot pages do not hit MongoDB per request; when MongoDB is down, stale entries
    are served."""

    def __init__(self, cache_seconds: float):
        self.cache_seconds = cache_seconds
        self._by_id: dict[int, tuple[float, dict | None]] = {}
        self._popular: tuple[float, int, list[dict]] = (0.0, 0, [])
        self._lock = threading.Lock()

    def get(self, tmdb_id: int) -> dict | None:
        return self.get_many([tmdb_id]).get(tmdb_id)

    def get_many(self, tmdb_ids: Iterable[int]) -> dict[int, dict]:
        """The movies found, by id; missing ids are unknown or (see ``stores.reachable``) MongoDB is down."""
        now = time.monotonic()
        found: dict[int, dict] = {}
        stale: list[int] = []
        for tmdb_id in tmdb_ids:
            entry = self._by_id.get(tmdb_id)
            if entry is None or entry[0] <= now:
                stale.append(tmdb_id)
            elif entry[1] is not None:
                found[tmdb_id] = entry[1]
        if stale:
            fetched = with_mongo(lambda db: self._fetch(db, stale), None)
            if fetched is None:  # MongoDB down: fall back to expired entries
                found.update((i, self._by_id[i][1]) for i in stale if self._by_id.get(i, (0, None))[1] is not None)
            else:
                self._remember(fetched, stale, now + self.cache_seconds)
                found.update(fetched)
        return found

    def _fetch(self, db: Database, tmdb_ids: list[int]) -> dict[int, dict]:
        cursor = db[MOVIES_COLLECTION.name].find({"_id": {"$in": tmdb_ids}})
        return {document["_id"]: to_movie(document) for document in cursor}

    def _remember(self, fetched: dict[int, dict], requested: list[int], expires: float) -> None:
        with self._lock:
            if len(self._by_id) + len(requested) > CACHE_MAX_ENTRIES:
                self._by_id.clear()
            for tmdb_id in requested:
                self._by_id[tmdb_id] = (expires, fetched.get(tmdb_id))

    def search(self, query: str, limit: int) -> list[dict]:
        """Movies whose normalized title starts with the normalized query, most popular first."""
        prefix = normalize_title(query)
        if not prefix:
            return []
        return with_mongo(
            lambda db: [
                to_movie(document)
                for document in db[MOVIES_COLLECTION.name]
                .find(title_prefix_filter(prefix))
                .sort(POPULAR_ORDER)
                .limit(limit)
            ],
            [],
        )

    def find_by_title(self, title: str) -> dict | None:
        """The most popular movie with exactly this (normalized) title, else the most popular starting with it."""
        exact = with_mongo(lambda db: self._most_popular(db, {"title_lower": normalize_title(title)}), None)
        return exact or next(iter(self.search(title, 1)), None)

    def _most_popular(self, db: Database, query: dict) -> dict | None:
        documents = list(db[MOVIES_COLLECTION.name].find(query).sort(POPULAR_ORDER).limit(1))
        return to_movie(documents[0]) if documents else None

    def popular(self, limit: int) -> list[dict]:
        """The most popular movies, reused for ``POPULAR_CACHE_SECONDS``."""
        expires, cached_limit, movies = self._popular
        if time.monotonic() < expires and cached_limit >= limit:
            return movies[:limit]
        movies = with_mongo(
            lambda db: [
                to_movie(document)
                for document in db[MOVIES_COLLECTION.name].find().sort(POPULAR_ORDER).limit(limit)
            ],
            None,
        )
        if movies is None:
            return self._popular[2][:limit]
        self._popular = (time.monotonic() + POPULAR_CACHE_SECONDS, limit, movies)
        return movies
