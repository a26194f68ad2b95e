"""The app under a real gunicorn process (spin_reel_web/gunicorn.conf.py), spoken to with raw HTTP/1.1 bytes:
gunicorn's own error responses (400, 414, 431) carry the security headers like the app's, and hostile requests
that do reach the app get their exact 4xx without marking a store down."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from spin_reel_assets.devtools.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "spin_reel_web" / "gunicorn.conf.py"
POSTGRES_NOTICE = "PostgreSQL is unreachable right now"
MONGO_NOTICE = "MongoDB is unreachable right now"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends ``request`` on a new connection and reads the whole answer: (status, headers by lower-case name, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def get(port: int, target: str | bytes, extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    target = target.encode("latin-1") if isinstance(target, str) else target
    return exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra + b"\r\n")


@pytest.fixture(scope="module")
def gunicorn(served_stack):
    port = free_port()
    env = {**os.environ, **served_stack.environ(), "SPIN_REEL_WEB_BIND": f"127.0.0.1:{port}", "SPIN_REEL_WEB_WORKERS": "1",
           "SPIN_REEL_WEB_THREADS": "2", "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "spin_reel_web:create_app()"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError, IndexError, ValueError):
                    if get(port, "/healthz")[0] == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"gunicorn did not become healthy:\n{log.read()[-3000:]}")
                time.sleep(0.2)
            yield port
        finally:
            stop_process(process)


def assert_security_headers(headers: dict[str, str]) -> None:
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def assert_stores_serve(port: int) -> None:
    """The one worker still reads both stores: nothing above marked one of them down."""
    status, _, body = get(port, "/users/1")
    text = body.decode()
    assert status == 200 and POSTGRES_NOTICE not in text and MONGO_NOTICE not in text and "ratings, newest first" in text


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # request line over limit_request_line
        (b"GET /?q=" + b"x" * 4100 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # a huge query string
        (b"NOT AN HTTP REQUEST\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),  # a space in a header name
        (b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # a raw NUL in the request line
        (b"GET /movies/\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # raw non-ASCII bytes (percent-encoded ones reach the app)
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(60)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8200 + b"\r\n\r\n", 431),
    ],
)
def test_gunicorns_own_error_responses_carry_the_security_headers(gunicorn, request_bytes, status):
    got, headers, body = exchange(gunicorn, request_bytes)
    assert got == status, body[:300]
    assert_security_headers(headers)
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert int(headers["content-length"]) == len(body)


def test_app_responses_carry_the_security_headers(gunicorn):
    for target in ("/", "/nowhere", "/movies/abc", "/api/movies/862"):
        status, headers, _ = get(gunicorn, target)
        assert status in (200, 400, 404)
        assert_security_headers(headers)
        assert "script-src 'self'" in headers["content-security-policy"]


@pytest.mark.parametrize(
    ("target", "status", "fragment"),
    [
        ("/postgres?title=toy%00story", 400, b"must not contain control characters"),
        ("/api/search?q=toy%FF", 400, b"The query string is not valid UTF-8"),
        ("/api/movies/%FF", 400, b"The URL path is not valid UTF-8"),  # gunicorn percent-decodes the path
        ("/api/search?q=" + "x" * 3000, 400, b"at most 100 characters, got 3000"),
        ("/movies/86%002", 400, b"movie id must be an integer"),
    ],
)
def test_hostile_urls_reaching_the_app(gunicorn, target, status, fragment):
    got, headers, body = get(gunicorn, target)
    assert got == status and fragment in body
    assert_security_headers(headers)
    assert_stores_serve(gunicorn)


def post(port: int, body: bytes, content_type: bytes = b"application/json") -> tuple[int, dict[str, str], bytes]:
    return exchange(port, b"POST /api/recommendations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
                    + content_type + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def test_json_nested_20000_deep_is_400(gunicorn):
    status, headers, body = post(gunicorn, b"[" * 20_000 + b"]" * 20_000)
    assert status == 400 and b"nests 20000 levels deep" in body and headers["content-type"] == "application/json"
    assert_security_headers(headers)
    assert_stores_serve(gunicorn)


def test_huge_json_body_is_413(gunicorn):
    status, headers, body = post(gunicorn, b'{"liked": [' + b"862, " * 100_000 + b"862]}")
    assert status == 413 and b'"status":413' in body
    assert_security_headers(headers)


def test_a_good_request_still_works(gunicorn):
    status, _, body = post(gunicorn, b'{"liked": [862, 863], "n": 5}')
    assert status == 200 and body.count(b'"rank"') == 5
