"""Resources: where the inputs are and how to reach each store. Settings come from the environment only."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

import adbc_driver_postgresql.dbapi as adbc
import dagster as dg
import psycopg
import pymongo
from pydantic import Field

from spin_reel_assets.cleaning.inputs import CANDIDATES, find_input
from spin_reel_assets.schema import DEFAULT_JDBC_JAR, DEFAULT_MONGO_DB

BUNDLED_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def redact(url: str) -> str:
    """A connection URL without its password, fit for logs and metadata."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class InputFilesResource(dg.ConfigurableResource):
    """The input files: a folder holding them under their original names, or one path per file."""

    data_dir: str = Field(default=str(BUNDLED_SAMPLE), description="Folder with ratings/movies/links/TMDB files (.gz accepted).")
    ratings_path: str | None = Field(default=None, description="Overrides the ratings file (ratings.csv, ratings.dat or u.data).")
    movies_path: str | None = Field(default=None, description="Overrides the MovieLens movies file (movies.csv, movies.dat or u.item).")
    links_path: str | None = Field(default=None, description="Overrides links.csv (movieId → tmdbId).")
    tmdb_path: str | None = Field(default=None, description="Overrides TMDB_movie_dataset_v11.csv.")

    def path(self, kind: str) -> Path | None:
        """The file of ``kind`` (one of ratings, movies, links, tmdb), or None when there is none."""
        if kind not in CANDIDATES:
            raise KeyError(kind)
        override = getattr(self, f"{kind}_path")
        if override:
            path = Path(override)
            if not path.is_file():
                raise FileNotFoundError(f"{kind} file {path} does not exist")
            return path
        return find_input(self.data_dir, kind)


class ArtifactsResource(dg.ConfigurableResource):
    """The artifacts directory (``SPIN_REEL_ARTIFACTS_DIR``): models, Parquet files and Spark checkpoints."""

    base_dir: str

    def path(self, *parts: str) -> str:
        return str(Path(self.base_dir, *parts))


class PostgresResource(dg.ConfigurableResource):
    """PostgreSQL holding the ratings (and the movie facts the web app joins). Connects only when asked."""

    url: str = Field(description="postgresql://user[:password]@host:port/database")
    connect_timeout: int = 10

    @contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.url, autocommit=autocommit, connect_timeout=self.connect_timeout) as conn:
            yield conn

    @contextmanager
    def connect_arrow(self) -> Iterator[adbc.Connection]:
        """An ADBC connection (Arrow in and out), with this resource's connect timeout unless the URL sets one."""
        with adbc.connect(self.arrow_url) as conn:
            yield conn

    @property
    def arrow_url(self) -> str:
        parts = urlsplit(self.url)
        if "connect_timeout" in parse_qs(parts.query):
            return self.url
        query = f"{parts.query}&" if parts.query else ""
        return urlunsplit(parts._replace(query=f"{query}connect_timeout={self.connect_timeout}"))

    @property
    def safe_url(self) -> str:
        return redact(self.url)

    def jdbc(self) -> tuple[str, dict[str, str]]:
        """The same database as a JDBC URL and connection properties (user/password kept out of the URL)."""
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        # Connection parameters (sslmode, sslrootcert, ...) carry over: pgjdbc reads the same names from its URL.
        query = f"?{parts.query}" if parts.query else ""
        url = f"jdbc:postgresql://{host}:{parts.port or 5432}{parts.path or '/postgres'}{query}"
        props = {"user": parts.username or os.environ.get("PGUSER", "postgres"), "driver": "org.postgresql.Driver"}
        if parts.password:
            props["password"] = parts.password
        return url, props


class MongoResource(dg.ConfigurableResource):
    """MongoDB holding the movie documents. The client is created on first use, never at import."""

    uri: str = Field(description="mongodb://host:port (credentials allowed; never shown in metadata)")
    database: str = DEFAULT_MONGO_DB
    server_selection_timeout_ms: int = 10_000

    @contextmanager
    def get_database(self) -> Iterator[pymongo.database.Database]:
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=self.server_selection_timeout_ms, tz_aware=True)
        try:
            yield client[self.database]
        finally:
            client.close()

    @property
    def safe_uri(self) -> str:
        return redact(self.uri)


def spark_config_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Spark settings for PySparkResource: master and JDBC jar from env, plus any ``SPIN_REEL_SPARK_CONF``.

    ``SPIN_REEL_SPARK_CONF`` holds extra ``key=value`` pairs separated by whitespace or commas, e.g.
    ``spark.executor.memory=8g spark.executor.instances=4`` for a cluster given by ``SPARK_MASTER``.
    """
    environ = os.environ if environ is None else environ
    jar = environ.get("SPIN_REEL_JDBC_JAR", DEFAULT_JDBC_JAR)
    config = {
        "spark.master": environ.get("SPARK_MASTER", "local[*]"),
        "spark.app.name": "spin-reel",
        "spark.jars": jar,
        "spark.driver.extraClassPath": jar,
        "spark.driver.memory": environ.get("SPIN_REEL_SPARK_DRIVER_MEMORY", "4g"),
        "spark.sql.shuffle.partitions": environ.get("SPIN_REEL_SPARK_SHUFFLE_PARTITIONS", "8"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    for pair in environ.get("SPIN_REEL_SPARK_CONF", "").replace(",", " ").split():
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"SPIN_REEL_SPARK_CONF: '{pair}' is not key=value")
        config[key.strip()] = value.strip()
    return config
