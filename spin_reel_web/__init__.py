"""Spin The Reel web app: serves the hybrid recommender's artifacts with metadata from MongoDB and PostgreSQL.

    gunicorn -c spin_reel_web/gunicorn.conf.py 'spin_reel_web:create_app()'

Nothing connects or loads at import or creation time: the artifacts load on the first request that needs them,
MongoDB and PostgreSQL are reached on first use."""

from __future__ import annotations

from flask import Flask

from . import config, errors, headers, stores, templating, validation
from .artifacts import ArtifactStore
from .blueprints import api, health, pages
from .catalog import MovieCatalog
from .response_cache import ResponseCache
from .suggestions import TitlePool


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config.from_env())
    if test_config is not None:
        app.config.from_mapping(test_config)
    config.ensure_secret_key(app.config)
    app.config.update(DEBUG=False, MAX_CONTENT_LENGTH=64 * 1024)
    app.json.sort_keys = False

    app.extensions["spin_reel_artifacts"] = ArtifactStore(app.config["ARTIFACTS_DIR"], app.config["ARTIFACT_CHECK_SECONDS"],
                                                                app.config["SERVING_DIR"])
    app.extensions["spin_reel_catalog"] = MovieCatalog(app.config["MOVIE_CACHE_SECONDS"])
    app.extensions["spin_reel_responses"] = ResponseCache(app.config["MOVIE_CACHE_SECONDS"])
    app.extensions["spin_reel_titles"] = TitlePool()
    validation.init_app(app)
    stores.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    templating.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    return app
