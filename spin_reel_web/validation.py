"""Parsing of ids, counts and queries from URLs, forms and JSON: anything invalid raises a 400 with a clear message."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.exceptions import BadRequest

MAX_ID = 2**31 - 1  # PostgreSQL integer
MAX_N = 100
MAX_QUERY_CHARS = 100
MAX_LIKED = 50
MAX_PAGE = 100_000


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 20 else text[:20] + "…")


def parse_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool):  # JSON true/false are ints to Python
        raise BadRequest(f"{what} must be an integer between {low} and {high}, got {_shown(value)}.")
    if isinstance(value, str):
        text = value.strip()
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
    else:
        number = value if isinstance(value, int) else None
    if number is None or not low <= number <= high:
        raise BadRequest(f"{what} must be an integer between {low} and {high}, got {_shown(value)}.")
    return number


def parse_id(value: object, what: str) -> int:
    return parse_int(value, what, 1, MAX_ID)


def parse_n(args: Mapping, default: int) -> int:
    return parse_int(args.get("n", default), "n", 1, MAX_N)


def parse_page(args: Mapping) -> int:
    return parse_int(args.get("page", 1), "page", 1, MAX_PAGE)


def parse_query(args: Mapping, name: str, required: bool) -> str:
    query = (args.get(name) or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"{name} is too long: at most {MAX_QUERY_CHARS} characters, got {len(query)}.")
    if required and not query:
        raise BadRequest(f"The query parameter {name} is required.")
    return query


def parse_liked(values: object) -> list[int]:
    """A list of movie ids (duplicates dropped, order kept), at most MAX_LIKED of them."""
    if not isinstance(values, list):
        raise BadRequest("liked must be a list of TMDB movie ids.")
    liked = list(dict.fromkeys(parse_id(value, "Each liked id") for value in values))
    if len(liked) > MAX_LIKED:
        raise BadRequest(f"Too many liked movies: at most {MAX_LIKED}, got {len(liked)}.")
    return liked
