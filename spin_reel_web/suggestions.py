"""Links offered on a 404: existing movies and users near what was asked for ({"label", "url"} dicts)."""

from __future__ import annotations

import threading
import time

from flask import current_app, url_for
from pymongo.database import Database
from rapidfuzz import fuzz, process

from spin_reel_assets.schema import MOVIES_COLLECTION
from spin_reel_assets.titles import normalize_title

from .catalog import POPULAR_ORDER
from .errors import wants_json
from .recommendations import artifacts, catalog
from .stores import with_mongo

COUNT = 5
TITLE_POOL_SIZE = 5_000  # the most popular titles, matched against any title that was not found
TITLE_POOL_SECONDS = 600.0
PREFIX_CANDIDATES = 50  # plus the most popular titles starting with the query's first word
# token_set_ratio (0..100) forgives typos, missing words and word order: "tyo stroy" and "fellowship of the ring"
# find "Toy Story" and "The Lord of the Rings: The Fellowship of the Ring"; below this, nothing is "like" the query.
MIN_SIMILARITY = 50


class TitlePool:
    """{"tmdb_id", "title", "year"} of the TITLE_POOL_SIZE most popular movies with their normalized titles, read
    from MongoDB on first use and again every TITLE_POOL_SECONDS (the last pool is kept while MongoDB is down)."""

    def __init__(self) -> None:
        self._expires = 0.0
        self._pool: tuple[list[dict], list[str]] = ([], [])  # replaced whole, so a reader never sees half of it
        self._lock = threading.Lock()

    def movies(self) -> tuple[list[dict], list[str]]:
        if time.monotonic() >= self._expires:
            with self._lock:
                if time.monotonic() >= self._expires:
                    movies = with_mongo(self._read, None)
                    if movies is not None:
                        self._pool = (movies, [normalize_title(movie["title"]) for movie in movies])
                        self._expires = time.monotonic() + TITLE_POOL_SECONDS
        return self._pool

    @staticmethod
    def _read(db: Database) -> list[dict]:
        cursor = db[MOVIES_COLLECTION.name].find({}, {"title": 1, "year": 1}).sort(POPULAR_ORDER).limit(TITLE_POOL_SIZE)
        return [{"tmdb_id": document["_id"], "title": document["title"], "year": document.get("year")} for document in cursor]


def movie_label(movie: dict) -> str:
    return f"{movie['title']} ({movie['year']})" if movie.get("year") else str(movie["title"])


def _movie_link(movie: dict) -> dict:
    endpoint = "api.movie" if wants_json() else "pages.movie"
    return {"label": movie_label(movie), "url": url_for(endpoint, tmdb_id=movie["tmdb_id"])}


def popular_movies() -> list[dict]:
    return [_movie_link(movie) for movie in catalog().popular(COUNT)]


def similar_titles(title: str, count: int = COUNT) -> list[dict]:
    """The movies whose titles are most like ``title`` (case, accents and punctuation aside), most alike first and,
    among equals, most popular first: from the most popular titles and those starting with its first word."""
    query = normalize_title(title)
    if not query:
        return []
    pool, keys = current_app.extensions["spin_reel_titles"].movies()
    prefixed = catalog().search(query.split()[0], PREFIX_CANDIDATES)
    movies, choices = pool + prefixed, keys + [normalize_title(movie["title"]) for movie in prefixed]
    found: dict[int, dict] = {}
    # Sorted by similarity, then by position: the pool and the prefix matches are each most popular first.
    for _, _, index in process.extract(query, choices, scorer=fuzz.token_set_ratio, processor=None, limit=None,
                                       score_cutoff=MIN_SIMILARITY):
        found.setdefault(movies[index]["tmdb_id"], movies[index])  # a movie in both lists keeps its first place
        if len(found) == count:
            break
    return list(found.values())


def titles_like(title: str, endpoint: str) -> list[dict]:
    """"Did you mean": the movies with titles most like ``title`` (the most popular when none is), as links to
    ``endpoint?title=``."""
    return [
        {"label": movie_label(movie), "url": url_for(endpoint, title=movie["title"])}
        for movie in similar_titles(title) or catalog().popular(COUNT)
    ]


def nearby_users(user_id: int) -> list[dict]:
    snapshot = artifacts()
    if snapshot is None:
        return []
    endpoint = "api.user" if wants_json() else "pages.user"
    return [
        {"label": f"User {other}", "url": url_for(endpoint, user_id=other)}
        for other in snapshot.user_recommendations.nearest_keys(user_id, COUNT)
    ]
