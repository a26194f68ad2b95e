"""JSON API mirroring the pages. Every body carries ``notices``: what is missing because a store is down."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, ServiceUnavailable

from spin_reel_assets.schema import DEFAULT_TOP_N

from .. import suggestions
from ..artifacts import HybridArtifacts
from ..errors import NotFoundWithSuggestions
from ..recommendations import artifacts, card, catalog, known_movie, recommend_for_liked, similar_movies, user_recommendations
from ..stores import notices
from ..validation import parse_id, parse_json_object, parse_liked, parse_n, parse_query

bp = Blueprint("api", __name__, url_prefix="/api")

SEARCH_DEFAULT_N = 10


def _ok(**body):
    return jsonify(**body, notices=notices())


def _require_artifacts() -> HybridArtifacts:
    snapshot = artifacts()
    if snapshot is None:
        raise ServiceUnavailable("The recommender's artifacts are not loaded yet; try again once the pipeline has run.")
    return snapshot


def _cached(key: Hashable, build: Callable[[HybridArtifacts], Response]) -> Response:
    """The body built by ``build`` for this snapshot, reused for later requests while no store was down."""
    snapshot = _require_artifacts()
    cache = current_app.extensions["spin_reel_responses"]
    body = cache.get(snapshot, key)
    if body is not None:
        return current_app.response_class(body, mimetype="application/json")
    response = build(snapshot)
    if not notices():
        cache.put(snapshot, key, response.get_data())
    return response


@bp.get("/movies/<tmdb_id>")
def movie(tmdb_id: str):
    tmdb_id = parse_id(tmdb_id, "The movie id")
    found = catalog().get(tmdb_id)
    if found is None and not known_movie(tmdb_id):
        raise NotFoundWithSuggestions(f"No movie with TMDB id {tmdb_id}.", suggestions.popular_movies())
    return _ok(tmdb_id=tmdb_id, movie=found)


@bp.get("/movies/<tmdb_id>/similar")
def similar(tmdb_id: str):
    tmdb_id = parse_id(tmdb_id, "The movie id")
    n = parse_n(request.args, DEFAULT_TOP_N)

    def build(snapshot: HybridArtifacts) -> Response:
        rows = similar_movies(tmdb_id, n)
        if rows is None:
            raise NotFoundWithSuggestions(f"No similar movies for TMDB id {tmdb_id}.", suggestions.popular_movies())
        return _ok(tmdb_id=tmdb_id, weight=snapshot.weight, similar=rows)

    return _cached(("similar", tmdb_id, n), build)


@bp.get("/users/<user_id>/recommendations")
def user(user_id: str):
    user_id = parse_id(user_id, "The user id")
    n = parse_n(request.args, DEFAULT_TOP_N)

    def build(_snapshot: HybridArtifacts) -> Response:
        rows = user_recommendations(user_id, n)
        if rows is None:
            raise NotFoundWithSuggestions(f"No recommendations for user {user_id}.", suggestions.nearby_users(user_id))
        return _ok(user_id=user_id, recommendations=rows)

    return _cached(("user", user_id, n), build)


@bp.get("/search")
def search():
    query = parse_query(request.args, "q", required=True)
    n = parse_n(request.args, SEARCH_DEFAULT_N)
    return _ok(query=query, results=[card(movie) for movie in catalog().search(query, n)])


@bp.post("/recommendations")
def recommend():
    body = parse_json_object('{"liked": [862, 863], "n": 20}')
    liked = parse_liked(body.get("liked"))
    n = parse_n(body, DEFAULT_TOP_N)
    if not liked:
        raise BadRequest("liked must name at least one TMDB movie id.")
    _require_artifacts()
    rows, unknown = recommend_for_liked(liked, n)
    if len(unknown) == len(liked):
        raise NotFoundWithSuggestions(f"None of the liked movies are known: {unknown}.", suggestions.popular_movies())
    return _ok(liked=[tmdb_id for tmdb_id in liked if tmdb_id not in unknown], ignored=unknown, recommendations=rows)
