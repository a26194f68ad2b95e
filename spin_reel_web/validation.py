"""Parsing of the request: URL, ids, counts and texts from URLs and forms, JSON bodies. Each input is parsed once,
to a typed and bounded value the stores can take; anything else raises a 400 with a clear message, so that bad
input never reaches a store (where it would read as a store failure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import BadRequest

MAX_ID = 2**31 - 1  # PostgreSQL integer
MAX_N = 100
MAX_QUERY_CHARS = 100
MAX_LIKED = 50
MAX_PAGE = 100_000
MAX_JSON_DEPTH = 8  # the bodies this app takes are 2 deep

# C0 and C1 control characters other than tab, LF and CR (whitespace a pasted title may hold): PostgreSQL text
# cannot hold NUL, and none of them is in a movie title.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A JSON string (possibly unterminated: it then runs to the end) or a bracket: brackets inside strings do not nest.
_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\Z)|[\[\]{}]', re.S)


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
    """A search text: stripped, at most MAX_QUERY_CHARS characters, no control characters."""
    query = (args.get(name) or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"{name} is too long: at most {MAX_QUERY_CHARS} characters, got {len(query)}.")
    control = _CONTROL.search(query)
    if control:
        raise BadRequest(
            f"{name} must not contain control characters: U+{ord(control.group()):04X} at character {control.start() + 1}."
        )
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


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing it (linear time)."""
    depth = deepest = 0
    for token in _JSON_NESTING.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _not_a_number(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def parse_json_object(example: str) -> dict:
    """The request's body as a JSON object: UTF-8, nested at most MAX_JSON_DEPTH deep, no NaN or Infinity, and at
    most MAX_CONTENT_LENGTH bytes (werkzeug answers 413 beyond that)."""
    hint = f"Send a JSON object such as {example} with Content-Type: application/json."
    if not request.is_json:
        raise BadRequest(hint)
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"The body is not valid UTF-8 (byte {error.start + 1}). {hint}") from None
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body nests {depth} levels deep, more than the {MAX_JSON_DEPTH} accepted. {hint}")
    try:
        body = json.loads(text, parse_constant=_not_a_number)
    except ValueError as error:  # invalid JSON, NaN/Infinity, an integer over Python's 4,300 digits
        raise BadRequest(f"The body is not a valid JSON object: {error}. {hint}") from None
    if not isinstance(body, dict):
        raise BadRequest(hint)
    return body


def _require_utf8(raw: bytes, what: str) -> None:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"{what} is not valid UTF-8 once percent-decoded (byte {error.start + 1}).") from None


def check_url_encoding() -> None:
    """Before every request: the path, the query string and a form body must be UTF-8 once percent-decoded.
    Werkzeug would read invalid bytes as U+FFFD in the path and keep them as literal %XX text in the arguments."""
    environ = request.environ
    # PEP 3333: PATH_INFO and QUERY_STRING hold the raw bytes as latin-1 characters.
    _require_utf8(environ.get("PATH_INFO", "").encode("latin-1"), "The URL path")
    _require_utf8(unquote_to_bytes(environ.get("QUERY_STRING", "").encode("latin-1")), "The query string")
    if request.mimetype == "application/x-www-form-urlencoded":
        _require_utf8(unquote_to_bytes(request.get_data()), "The form body")


def init_app(app: Flask) -> None:
    app.before_request(check_url_encoding)
