"""Ranked movie lists for the pages and the API: the artifacts' rows joined with movie cards from the catalog.

Every row is a dict: rank, tmdb_id, score (the blend), content_score, als_score (None without ALS factors) and
``movie`` (a card, None when MongoDB does not know the movie or is down); similar movies add content_share (0..1,
see ``artifacts.content_share``), user and cold-start picks add because_tmdb_id with its ``because`` card."""

from __future__ import annotations

import numpy as np
from flask import current_app, g

from .artifacts import ArtifactStore, HybridArtifacts, plain_rows
from .cold_start import recommend_from_liked, similar_to
from .catalog import MovieCatalog
from .stores import ARTIFACTS, mark_unavailable

CARD_FIELDS = ("tmdb_id", "title", "year", "genres", "poster_url", "vote_average")


def artifact_store() -> ArtifactStore:
    return current_app.extensions["spin_reel_artifacts"]


def artifacts() -> HybridArtifacts | None:
    """The loaded artifacts, or None (with a notice for the page) before the pipeline produced them.

    The first call of a request pins the snapshot on ``g``: every later lookup of the request reads the same
    version, even when a new one is swapped in meanwhile."""
    if "artifacts" not in g:
        g.artifacts = artifact_store().current()
    if g.artifacts is None:
        mark_unavailable(ARTIFACTS)
    return g.artifacts


def catalog() -> MovieCatalog:
    return current_app.extensions["spin_reel_catalog"]


def card(movie: dict | None) -> dict | None:
    return None if movie is None else {field: movie.get(field) for field in CARD_FIELDS}


def with_cards(rows: list[dict]) -> list[dict]:
    """Adds the ``movie`` card to each row, and the ``because`` card to rows that have a because_tmdb_id."""
    ids = {row["tmdb_id"] for row in rows} | {row["because_tmdb_id"] for row in rows if row.get("because_tmdb_id")}
    movies = catalog().get_many(ids)
    for row in rows:
        row["movie"] = card(movies.get(row["tmdb_id"]))
        if "because_tmdb_id" in row:
            row["because"] = card(movies.get(row["because_tmdb_id"]))
    return rows


def user_recommendations(user_id: int, n: int) -> list[dict] | None:
    """The user's top-n, or None when the artifacts hold no recommendations for this user."""
    snapshot = artifacts()
    rows = snapshot.user_recommendations.get(user_id, n) if snapshot else None
    return None if rows is None else with_cards(rows)


def similar_rows(tmdb_id: int, n: int) -> list[dict] | None:
    """The movie's top-n similar movies (no cards): as the artifacts hold them, or, for a movie the pipeline made
    no list for (by default those nobody rated), ranked here the way the pipeline ranks such a movie's list;
    None when the artifacts do not know the movie or it has no content to search with."""
    snapshot = artifacts()
    if snapshot is None:
        return None
    rows = snapshot.similar_movies.get(tmdb_id, n)
    if rows is not None:
        return rows
    row = int(snapshot.items.rows_of([tmdb_id])[0])
    found = similar_to(row, snapshot.items.vectors, snapshot.weight, n, snapshot.similar_candidates) if row >= 0 else None
    if found is None:
        return None
    columns = {"rank": found["rank"], "tmdb_id": snapshot.items.tmdb_ids[found["item"]], "score": found["score"],
               "content_score": found["content_score"], "als_score": found["als_score"]}
    return plain_rows(columns, snapshot.weight)


def similar_movies(tmdb_id: int, n: int) -> list[dict] | None:
    rows = similar_rows(tmdb_id, n)
    return None if rows is None else with_cards(rows)


def known_movie(tmdb_id: int) -> bool:
    """Whether the artifacts know this movie (as a similar-list key or an embedded item)."""
    snapshot = artifacts()
    return snapshot is not None and (tmdb_id in snapshot.similar_movies or tmdb_id in snapshot.items)


def recommend_for_liked(liked: list[int], n: int) -> tuple[list[dict], list[int]]:
    """Cold-start recommendations for a visitor who likes these movies: (rows, liked ids the artifacts do not know)."""
    snapshot = artifacts()
    if snapshot is None:
        return [], []
    items = snapshot.items
    rows_of = items.rows_of(liked).tolist()
    unknown = [tmdb_id for tmdb_id, row in zip(liked, rows_of) if row < 0]
    known_rows = [row for row in rows_of if row >= 0]
    if not known_rows:
        return [], unknown
    result = recommend_from_liked(np.array(known_rows, dtype=np.int64), items.vectors, snapshot.weight, n=n)
    rows = [
        {
            "rank": rank,
            "tmdb_id": tmdb_id,
            "score": round(score, 6),
            "content_score": round(content_score, 6),
            "als_score": None if als_score != als_score else round(als_score, 6),
            "because_tmdb_id": because,
        }
        for rank, tmdb_id, score, content_score, als_score, because in zip(
            result["rank"].tolist(), items.tmdb_ids[result["item"]].tolist(), result["score"].tolist(),
            result["content_score"].tolist(), result["als_score"].tolist(), items.tmdb_ids[result["because"]].tolist(),
        )
    ]
    return with_cards(rows), unknown
