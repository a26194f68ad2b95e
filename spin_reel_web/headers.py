"""Security headers, including a Content-Security-Policy that allows no inline script except the poster fallback.

The app adds them to every response it makes; ``gunicorn_worker`` adds them to the error responses gunicorn
writes itself (a request line or headers it refuses never reach the app)."""

from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response

POSTER_HOST = "https://image.tmdb.org"

# On every response, beside the Content-Security-Policy; X-Frame-Options is frame-ancestors for older browsers.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# gunicorn's own error pages load nothing at all.
SERVER_ERROR_POLICY = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"


def poster_fallback_handler(app: Flask) -> str:
    """The ``onerror`` attribute of every poster: swap in the local placeholder when TMDB cannot be reached."""
    return f"this.onerror=null;this.src='{app.static_url_path}/placeholder.svg'"


def init_app(app: Flask) -> None:
    handler = poster_fallback_handler(app)
    app.jinja_env.globals["poster_onerror"] = handler
    digest = base64.b64encode(hashlib.sha256(handler.encode()).digest()).decode()
    policy = (
        f"default-src 'self'; img-src 'self' {POSTER_HOST} data:; script-src 'self' 'unsafe-hashes' 'sha256-{digest}'; "
        "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers.update(COMMON_HEADERS)
        return response
