"""Error responses: an HTML page, or JSON under /api/ and /healthz, with suggestions of where to go instead."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound


class NotFoundWithSuggestions(NotFound):
    """A 404 that carries links to pages that do exist: a list of {"label", "url"}."""

    def __init__(self, description: str, suggestions: list[dict]):
        super().__init__(description)
        self.suggestions = suggestions


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _default_suggestions() -> list[dict]:
    return [
        {"label": "Search and popular movies", "url": url_for("pages.index")},
        {"label": "Discover movies", "url": url_for("pages.discover")},
    ]


def handle_http_error(error: HTTPException):
    suggestions = getattr(error, "suggestions", None)
    if suggestions is None and error.code == 404:
        suggestions = _default_suggestions()
    headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}
    if wants_json():
        body = jsonify(error=error.name, status=error.code, message=error.description, suggestions=suggestions or [])
        return body, error.code, headers
    return render_template("error.html", error=error, suggestions=suggestions or []), error.code, headers


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
