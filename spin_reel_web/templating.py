"""Jinja filters and the values every template sees (notices, navigation)."""

from __future__ import annotations

from flask import Flask

from .stores import notices
from .suggestions import movie_label


def percent(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)} %"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def runtime(minutes: int | None) -> str:
    if not minutes:
        return "–"
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(percent=percent, score=score, runtime=runtime, movie_label=movie_label)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.context_processor(lambda: {"notices": notices()})
