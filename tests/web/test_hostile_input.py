"""Hostile input (NUL bytes, control characters, invalid UTF-8, huge query strings and bodies, deeply nested JSON):
each gets its exact 4xx with a clear message, and neither store is ever marked down by it."""

from __future__ import annotations

import json

import pytest

from spin_reel_web.stores import MONGO, POSTGRES
from spin_reel_web.validation import MAX_JSON_DEPTH, json_depth

MONGO_NOTICE = "MongoDB is unreachable right now"
POSTGRES_NOTICE = "PostgreSQL is unreachable right now"
DEEP = 20_000


def stores_up(app) -> bool:
    return all(health.available() for health in app.extensions["spin_reel_stores"].health.values())


def message(response) -> str:
    return response.get_json()["message"] if response.is_json else response.get_data(as_text=True)


def expect(app, response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    text = message(response)
    for fragment in fragments:
        assert fragment in text
    assert response.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert stores_up(app)


@pytest.mark.parametrize(
    "url",
    [
        "/postgres?title=toy%00story",
        "/mongo?title=toy%00story",
        "/?q=toy%00story",
        "/discover?q=toy%00",
        "/api/search?q=toy%00story",
        "/api/search?q=toy%01story",
        "/api/search?q=toy%C2%9F",  # a C1 control
    ],
)
def test_control_characters_in_a_text_are_400_and_no_store_outage(app, client, url):
    expect(app, client.get(url), 400, "must not contain control characters")


def test_nul_title_then_the_real_title_reads_postgres(app, client):
    """The reported case: a NUL once marked PostgreSQL down for 5 s; now the next request is served in full."""
    expect(app, client.get("/postgres?title=toy%00story"), 400, "U+0000 at character 4")
    response = client.get("/postgres?title=Toy+Story")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and POSTGRES_NOTICE not in text and 'Movies similar to <a href="/movies/862">' in text


def test_whitespace_controls_in_a_title_are_whitespace(client):
    assert 'Movies similar to <a href="/movies/862">' in client.get("/postgres?title=toy%09story").get_data(as_text=True)
    assert 862 in [movie["tmdb_id"] for movie in client.get("/api/search?q=toy%0Astory").get_json()["results"]]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("/movies/86%002", "movie id must be an integer"),
        ("/users/1%00", "user id must be an integer"),
        ("/api/movies/%00", "movie id must be an integer"),
        ("/api/users/1%00/recommendations", "user id must be an integer"),
        ("/discover?liked=862%00", "Each liked id"),
        ("/movies/862?n=5%00", "n must be an integer"),
    ],
)
def test_nul_in_ids_is_400(app, client, url, fragment):
    expect(app, client.get(url), 400, fragment)


def test_nul_in_an_unknown_path_is_404(app, client):
    expect(app, client.get("/no%00where"), 404)


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("/api/search?q=toy%FF", "The query string"),
        ("/postgres?title=%ED%A0%80", "The query string"),  # an encoded surrogate is not UTF-8
        ("/?q=%C3", "The query string"),  # truncated sequence
    ],
)
def test_invalid_utf8_in_the_query_is_400(app, client, url, what):
    expect(app, client.get(url), 400, f"{what} is not valid UTF-8")


@pytest.mark.parametrize("path", ["/movies/\xff", "/api/movies/8\xc3", "/\xed\xa0\x80"])
def test_invalid_utf8_in_the_path_is_400(app, client, path):
    # PATH_INFO holds the raw bytes as latin-1 characters (PEP 3333), as gunicorn passes them.
    expect(app, client.get("/", environ_overrides={"PATH_INFO": path}), 400, "The URL path is not valid UTF-8")


def test_invalid_utf8_in_a_form_body_is_400(app, client):
    response = client.post("/discover", data=b"q=toy%FF&liked=862", content_type="application/x-www-form-urlencoded")
    expect(app, response, 400, "The form body is not valid UTF-8")


def test_huge_query_strings(app, client):
    expect(app, client.get("/api/search", query_string={"q": "x" * 1_000_000}), 400, "at most 100 characters, got 1000000")
    expect(app, client.get("/postgres", query_string={"title": "toy " * 250_000}), 400, "title is too long")
    many = "&".join(f"p{index}=1" for index in range(20_000))
    response = client.get(f"/api/search?{many}&q=toy+story")
    assert response.status_code == 200 and 862 in [movie["tmdb_id"] for movie in response.get_json()["results"]]
    expect(app, client.get("/discover?" + "&".join(["liked=862"] * 10_000) + "&liked=x"), 400, "Each liked id")


# --- JSON bodies -------------------------------------------------------------------------------------


def post_json(client, body: str | bytes):
    return client.post("/api/recommendations", data=body, content_type="application/json")


@pytest.mark.parametrize(
    "body",
    [
        "[" * DEEP + "]" * DEEP,
        '{"a":' * 10_000 + "1" + "}" * 10_000,  # 60 kB, under the 64 kB body limit
        '{"liked": ' + "[" * DEEP,  # unterminated
        '{"liked": [' + "[" * 900 + "862" + "]" * 900 + "]}",  # deep enough to overflow repr() in an error message
    ],
)
def test_deeply_nested_json_is_400(app, client, body):
    expect(app, post_json(client, body), 400, "levels deep, more than the 8 accepted")


def test_json_nesting_is_counted_outside_strings():
    assert json_depth('{"liked": [862], "note": "[[[[[[[[[[{{{{{{{{"}') == 2
    assert json_depth('{"a": "\\"[[[[[[[[[[", "b": [[1]]}') == 3
    assert json_depth('"' + "\\\"" * 10_000) == 0  # an unterminated string with escaped quotes, read once


def test_json_at_the_depth_bound_is_parsed(app, client):
    nested = "[" * (MAX_JSON_DEPTH - 1) + "862" + "]" * (MAX_JSON_DEPTH - 1)
    expect(app, post_json(client, '{"liked": ' + nested + "}"), 400, "Each liked id")  # parsed, then typed
    response = post_json(client, '{"liked": [862], "note": "' + "[" * DEEP + '"}')
    assert response.status_code == 200 and len(response.get_json()["recommendations"]) == 20


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"liked": [862], "n": NaN}', "NaN is not a JSON number"),
        ('{"liked": [Infinity]}', "Infinity is not a JSON number"),
        ('{"liked": [862], "n": -Infinity}', "-Infinity is not a JSON number"),
        ('{"liked": [' + "9" * 5000 + "]}", "not a valid JSON object"),  # over Python's int digit limit
        ('{"liked": [862], "n": 1e999}', "n must be an integer"),  # a float (inf), not an integer
        ('{"liked": [862]', "not a valid JSON object"),
        ("", "not a valid JSON object"),
    ],
)
def test_json_numbers_and_syntax(app, client, body, fragment):
    expect(app, post_json(client, body), 400, fragment)


def test_json_that_is_not_utf8_is_400(app, client):
    expect(app, post_json(client, b'{"liked": [862], "x": "\xff"}'), 400, "The body is not valid UTF-8 (byte 24)")
    expect(app, post_json(client, '{"liked": [862]}'.encode("utf-16")), 400, "not valid UTF-8")


def test_huge_json_body_is_413(app, client):
    response = client.post("/api/recommendations", json={"liked": [862] * 20_000})
    expect(app, response, 413)
    assert response.get_json()["status"] == 413


def test_huge_form_body_is_413(app, client):
    response = client.post("/discover", data={"q": "x" * 100_000})
    expect(app, response, 413)


def test_nul_in_json_strings_never_reaches_a_store(app, client):
    expect(app, post_json(client, json.dumps({"liked": ["862\u0000"]})), 400, "Each liked id")


def test_no_store_was_marked_down(app, client):
    """After every hostile request above, both stores still serve a page that needs them."""
    text = client.get("/users/1").get_data(as_text=True)
    assert POSTGRES_NOTICE not in text and MONGO_NOTICE not in text and "ratings, newest first" in text
    health = app.extensions["spin_reel_stores"].health
    assert health[MONGO].available() and health[POSTGRES].available()
