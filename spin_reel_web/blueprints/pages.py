"""Server-rendered pages. Each renders what it can when a store is down; base.html shows the notices."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from spin_reel_assets.schema import DEFAULT_TOP_N

from .. import suggestions
from ..errors import NotFoundWithSuggestions
from ..ratings import find_movie_by_title, movie_facts, rating_history
from ..recommendations import (
    catalog,
    known_movie,
    recommend_for_liked,
    similar_movies,
    similar_rows,
    user_recommendations,
)
from ..stores import MONGO, POSTGRES, reachable, with_postgres
from ..validation import parse_id, parse_liked, parse_n, parse_page, parse_query

bp = Blueprint("pages", __name__)

POPULAR_COUNT = 18
SEARCH_RESULTS = 20
HISTORY_PAGE_SIZE = 20


@bp.get("/")
def index():
    query = parse_query(request.args, "q", required=False)
    results = catalog().search(query, SEARCH_RESULTS) if query else None
    return render_template("index.html", query=query, results=results, popular=catalog().popular(POPULAR_COUNT))


@bp.get("/movies/<tmdb_id>")
def movie(tmdb_id: str):
    tmdb_id = parse_id(tmdb_id, "The movie id")
    n = parse_n(request.args, DEFAULT_TOP_N)
    found = catalog().get(tmdb_id)
    if found is None and not known_movie(tmdb_id):
        raise NotFoundWithSuggestions(f"There is no movie with TMDB id {tmdb_id}.", suggestions.popular_movies())
    return render_template("movie.html", tmdb_id=tmdb_id, movie=found, similar=similar_movies(tmdb_id, n))


@bp.get("/users/<user_id>")
def user(user_id: str):
    user_id = parse_id(user_id, "The user id")
    page = parse_page(request.args)
    n = parse_n(request.args, DEFAULT_TOP_N)
    recommendations = user_recommendations(user_id, n)
    history = with_postgres(lambda connection: rating_history(connection, user_id, page, HISTORY_PAGE_SIZE), None)
    if recommendations is None and (history is None or history.total == 0):
        raise NotFoundWithSuggestions(f"There is no user {user_id}.", suggestions.nearby_users(user_id))
    page_count = max(1, -(-history.total // HISTORY_PAGE_SIZE)) if history else 1
    if history and page > page_count:
        raise NotFoundWithSuggestions(
            f"User {user_id}'s rating history has {page_count} page(s), not {page}.",
            [{"label": f"User {user_id}, first page", "url": url_for("pages.user", user_id=user_id)}],
        )
    return render_template(
        "user.html", user_id=user_id, recommendations=recommendations, history=history, page=page, page_count=page_count
    )


@bp.get("/mongo")
def mongo():
    """The notebook's MongoDB view: similar movies with their TMDB vote average and overview."""
    title = parse_query(request.args, "title", required=False)
    n = parse_n(request.args, DEFAULT_TOP_N)
    found = catalog().find_by_title(title) if title else None
    if title and found is None and reachable(MONGO):
        raise NotFoundWithSuggestions(f'No movie titled "{title}" in MongoDB.', suggestions.titles_like(title, "pages.mongo"))
    rows = similar_rows(found["tmdb_id"], n) if found else None
    details = catalog().get_many([row["tmdb_id"] for row in rows]) if rows else {}
    return render_template("mongo.html", title=title, movie=found, rows=rows, details=details)


@bp.get("/postgres")
def postgres():
    """The notebook's PostgreSQL view: similar movies with year, genres, runtime and rating statistics."""
    title = parse_query(request.args, "title", required=False)
    n = parse_n(request.args, DEFAULT_TOP_N)
    found = with_postgres(lambda connection: find_movie_by_title(connection, title), None) if title else None
    if title and found is None and reachable(POSTGRES):
        raise NotFoundWithSuggestions(
            f'No movie titled "{title}" in PostgreSQL.', suggestions.titles_like(title, "pages.postgres")
        )
    rows = similar_rows(found["tmdb_id"], n) if found else None
    facts = with_postgres(lambda connection: movie_facts(connection, [row["tmdb_id"] for row in rows]), {}) if rows else {}
    return render_template("postgres.html", title=title, movie=found, rows=rows, facts=facts)


@bp.route("/discover", methods=["GET", "POST"])
def discover():
    """Cold start: the visitor ticks movies they like (found by search or among popular ones) and gets picks."""
    values = request.values
    liked = parse_liked(values.getlist("liked"))
    query = parse_query(values, "q", required=False)
    n = parse_n(values, DEFAULT_TOP_N)
    liked_movies = catalog().get_many(liked)
    found = catalog().search(query, SEARCH_RESULTS) if query else []
    choices = [movie for movie in found + catalog().popular(POPULAR_COUNT) if movie["tmdb_id"] not in liked]
    recommendations, unknown = recommend_for_liked(liked, n) if liked else (None, [])
    return render_template(
        "discover.html",
        query=query,
        liked=liked,
        liked_movies=liked_movies,
        choices=list({movie["tmdb_id"]: movie for movie in choices}.values()),
        recommendations=recommendations,
        unknown=unknown,
    )
