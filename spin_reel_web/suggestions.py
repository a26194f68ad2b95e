"""Links offered on a 404: existing movies and users near what was asked for ({"label", "url"} dicts)."""

from __future__ import annotations

from flask import url_for

from .errors import wants_json
from .recommendations import artifacts, catalog

COUNT = 5


def movie_label(movie: dict) -> str:
    return f"{movie['title']} ({movie['year']})" if movie.get("year") else str(movie["title"])


def _movie_link(movie: dict) -> dict:
    endpoint = "api.movie" if wants_json() else "pages.movie"
    return {"label": movie_label(movie), "url": url_for(endpoint, tmdb_id=movie["tmdb_id"])}


def popular_movies() -> list[dict]:
    return [_movie_link(movie) for movie in catalog().popular(COUNT)]


def titles_like(title: str, endpoint: str) -> list[dict]:
    """Movies whose title starts like the first word of ``title``, as links to ``endpoint?title=``."""
    first_word = title.split()[0] if title.split() else ""
    movies = catalog().search(first_word, COUNT) if first_word else []
    return [
        {"label": movie_label(movie), "url": url_for(endpoint, title=movie["title"])}
        for movie in movies or catalog().popular(COUNT)
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
