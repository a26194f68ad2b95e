"""Queries on the PostgreSQL ``ratings`` and ``movies`` tables (parameterized; identifiers via psycopg.sql)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from spin_reel_assets.schema import MOVIES_TABLE, RATINGS_TABLE

RATINGS = sql.Identifier(RATINGS_TABLE.name)
MOVIES = sql.Identifier(MOVIES_TABLE.name)


@dataclass(frozen=True)
class RatingPage:
    ratings: list[dict]  # tmdb_id, rating, rated_at, title, year (newest first)
    total: int


def rating_history(connection: psycopg.Connection, user_id: int, page: int, page_size: int) -> RatingPage:
    with connection.cursor(row_factory=dict_row) as cursor:
        cursor.execute(sql.SQL("SELECT count(*) AS total FROM {ratings} WHERE user_id = %s").format(ratings=RATINGS), (user_id,))
        total = cursor.fetchone()["total"]
        cursor.execute(
            sql.SQL(
                "SELECT r.tmdb_id, r.rating, r.rated_at, m.title, m.year"
                " FROM {ratings} AS r LEFT JOIN {movies} AS m ON m.tmdb_id = r.tmdb_id"
                " WHERE r.user_id = %s ORDER BY r.rated_at DESC, r.tmdb_id LIMIT %s OFFSET %s"
            ).format(ratings=RATINGS, movies=MOVIES),
            (user_id, page_size, (page - 1) * page_size),
        )
        return RatingPage(ratings=cursor.fetchall(), total=total)


def movie_facts(connection: psycopg.Connection, tmdb_ids: list[int]) -> dict[int, dict]:
    """Year, genres and runtime from ``movies`` with the average rating and rating count from ``ratings``."""
    with connection.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT m.tmdb_id, m.title, m.year, m.genres, m.runtime,"
                " avg(r.rating)::float8 AS average_rating, count(r.rating) AS rating_count"
                " FROM {movies} AS m LEFT JOIN {ratings} AS r ON r.tmdb_id = m.tmdb_id"
                " WHERE m.tmdb_id = ANY(%s) GROUP BY m.tmdb_id"
            ).format(movies=MOVIES, ratings=RATINGS),
            (tmdb_ids,),
        )
        return {row["tmdb_id"]: row for row in cursor}


def find_movie_by_title(connection: psycopg.Connection, title: str) -> dict | None:
    """tmdb_id and title of the movie whose title is, or else starts with, ``title`` (case-insensitive);
    among several, the most rated."""
    with connection.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT m.tmdb_id, m.title FROM {movies} AS m"
                " WHERE starts_with(lower(m.title), lower(%(title)s))"
                " ORDER BY lower(m.title) = lower(%(title)s) DESC,"
                " (SELECT count(*) FROM {ratings} AS r WHERE r.tmdb_id = m.tmdb_id) DESC, m.tmdb_id LIMIT 1"
            ).format(movies=MOVIES, ratings=RATINGS),
            {"title": " ".join(title.split())},
        )
        return cursor.fetchone()
