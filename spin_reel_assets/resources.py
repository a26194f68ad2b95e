"""Resources: where the inputs are and how to reach each store. Settings come from the environment only."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

import adbc_driver_postgresql.dbapi as adbc
import dagster as dg
import psycopg
import pymongo
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from spin_reel_assets.cleaning.inputs import CANDIDATES, find_input
from spin_reel_assets.schema import DEFAULT_ARTIFACTS_DIR, DEFAULT_JDBC_JAR, DEFAULT_MONGO_DB

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


SPARK_CHECKPOINTS = "spark-checkpoints"  # under the artifacts folder, for local masters only

# Multi-host driver settings: applied only when the master is not local (in local mode everything is one JVM).
DRIVER_NETWORK = {
    "SPIN_REEL_SPARK_DRIVER_HOST": "spark.driver.host",
    "SPIN_REEL_SPARK_DRIVER_BIND_ADDRESS": "spark.driver.bindAddress",
    "SPIN_REEL_SPARK_DRIVER_PORT": "spark.driver.port",
    "SPIN_REEL_SPARK_BLOCK_MANAGER_PORT": "spark.blockManager.port",
}


class SparkSetupError(RuntimeError):
    """Spark cannot start or reach what it needs; the message is one line saying what and which setting."""


def is_local_master(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def spark_config_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Spark settings for the Spark resource, from the environment; any ``SPIN_REEL_SPARK_CONF`` pair wins.

    ``SPIN_REEL_SPARK_CONF`` holds extra ``key=value`` pairs separated by whitespace or commas. For a cluster
    (``SPARK_MASTER`` not local): ``SPIN_REEL_SPARK_EXECUTOR_MEMORY`` (default 4g) and
    ``SPIN_REEL_SPARK_EXECUTOR_CORES`` (default 2) size each executor, ``SPIN_REEL_SPARK_CHECKPOINT_DIR`` (required)
    is a folder every executor writes (HDFS, S3, a shared mount), and the ``DRIVER_NETWORK`` variables say where
    executors reach the driver: the host is derived from the route to the master when unset or ``auto``, the
    bind address defaults to that host, the ports are random when unset or 0 (fix them behind a firewall).
    """
    environ = os.environ if environ is None else environ
    jar = environ.get("SPIN_REEL_JDBC_JAR", DEFAULT_JDBC_JAR)
    master = environ.get("SPARK_MASTER", "local[*]")
    config = {
        "spark.master": master,
        "spark.app.name": "spin-reel",
        "spark.jars": jar,
        "spark.driver.extraClassPath": jar,
        "spark.driver.memory": environ.get("SPIN_REEL_SPARK_DRIVER_MEMORY", "4g"),
        "spark.executor.memory": environ.get("SPIN_REEL_SPARK_EXECUTOR_MEMORY", "4g"),
        "spark.executor.cores": environ.get("SPIN_REEL_SPARK_EXECUTOR_CORES", "2"),
        "spark.sql.shuffle.partitions": environ.get("SPIN_REEL_SPARK_SHUFFLE_PARTITIONS", "8"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    checkpoints = environ.get("SPIN_REEL_SPARK_CHECKPOINT_DIR")
    if checkpoints:
        config["spark.checkpoint.dir"] = checkpoints
    network = {key: environ.get(var) for var, key in DRIVER_NETWORK.items()}
    if not is_local_master(master):
        config.update({key: value for key, value in network.items() if value and value != "auto"})
    for pair in environ.get("SPIN_REEL_SPARK_CONF", "").replace(",", " ").split():
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"SPIN_REEL_SPARK_CONF: '{pair}' is not key=value")
        config[key.strip()] = value.strip()
    return config


def master_addresses(master: str) -> list[tuple[str, int]]:
    """(host, port) of each master a TCP check can reach: standalone (HA lists too) and Kubernetes API servers."""
    if master.startswith("spark://"):
        addresses = []
        for entry in master[len("spark://"):].split(","):
            host, _, port = entry.partition(":")
            addresses.append((host, int(port or 7077)))
        return addresses
    if master.startswith("k8s://"):
        url = master[6:] if "://" in master[6:] else f"https://{master[6:]}"
        parts = urlsplit(url)
        return [(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))]
    return []  # local, yarn (found from HADOOP_CONF_DIR): nothing to probe here


def check_master_reachable(master: str, timeout: float) -> None:
    """Raise SparkSetupError unless some master of ``master`` accepts a TCP connection within ``timeout``."""
    addresses = master_addresses(master)
    failures = []
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as error:
            failures.append(f"{host}:{port}: {error.strerror or error}")
    if addresses:
        raise SparkSetupError(f"Spark master {master} is unreachable ({'; '.join(failures)}; waited up to "
                              f"{timeout:g}s): start it or fix SPARK_MASTER")


def route_address(host: str, port: int) -> str:
    """This machine's address on the route to ``host``: where a peer on that network reaches us. Sends nothing."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)[0]
    with socket.socket(family, socket.SOCK_DGRAM, proto) as probe:
        probe.connect(address)
        return probe.getsockname()[0]


def check_jars(config: dict[str, str]) -> None:
    """Raise SparkSetupError when a driver-side jar (``spark.jars``, driver classpath) is not on this machine.

    ``local:`` jars must already be on every executor, so only the first JDBC read can check them
    (``spark_als.read_ratings_jdbc``); URLs (hdfs://, https://) are fetched by Spark itself.
    """
    paths = [entry for entry in config.get("spark.jars", "").split(",") if entry.strip()]
    paths += [entry for entry in config.get("spark.driver.extraClassPath", "").split(os.pathsep) if entry.strip()]
    for entry in paths:
        entry = entry.strip()
        scheme = urlsplit(entry).scheme
        path = urlsplit(entry).path if scheme == "file" else entry
        if scheme in ("", "file") and not any(char in path for char in "*?[") and not os.path.exists(path):
            raise SparkSetupError(f"Spark jar {path} does not exist (SPIN_REEL_JDBC_JAR, the PostgreSQL JDBC "
                                  "driver: apt-get install libpostgresql-jdbc-java or point it at the jar)")


def checkpoint_location(config: dict[str, str], artifacts_dir: str | None = None) -> str:
    """The checkpoint folder for ``config``, validated: ``spark.checkpoint.dir``, or for a local master
    ``<artifacts_dir>/spark-checkpoints``. On a cluster executors write it, so it must be set explicitly;
    a local path must be absolute (a shared mount) and is created. URLs (hdfs://, s3a://) Spark checks at start."""
    master = config.get("spark.master", "local[*]")
    location = config.get("spark.checkpoint.dir")
    if not location:
        if not is_local_master(master):
            raise SparkSetupError(f"SPIN_REEL_SPARK_CHECKPOINT_DIR is not set: with SPARK_MASTER={master} the "
                                  "executors write checkpoints, so it must be a folder they all reach "
                                  "(hdfs://…, s3a://…, or a shared mount)")
        location = str(Path(artifacts_dir or os.environ.get("SPIN_REEL_ARTIFACTS_DIR", DEFAULT_ARTIFACTS_DIR),
                            SPARK_CHECKPOINTS))
    scheme = urlsplit(location).scheme
    if scheme in ("", "file"):
        path = urlsplit(location).path if scheme == "file" else location
        if not is_local_master(master) and not os.path.isabs(path):
            raise SparkSetupError(f"SPIN_REEL_SPARK_CHECKPOINT_DIR={location} is relative: executors resolve it "
                                  "in their own working folders; give an absolute shared path or a URL")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as error:
            raise SparkSetupError(f"Spark checkpoint folder {path} cannot be created: {error.strerror}") from None
        if not os.access(path, os.W_OK):
            raise SparkSetupError(f"Spark checkpoint folder {path} is not writable")
    return location


def prepare_spark_config(config: dict[str, str], artifacts_dir: str | None = None,
                         connect_timeout: float = 10) -> dict[str, str]:
    """``config`` checked before any JVM starts (jars, checkpoint folder, master reachable) and completed with the
    checkpoint folder and, for a remote master, the driver's address on the route to it."""
    config = dict(config)
    master = config.get("spark.master", "local[*]")
    check_jars(config)
    config["spark.checkpoint.dir"] = checkpoint_location(config, artifacts_dir)
    if not is_local_master(master):
        check_master_reachable(master, connect_timeout)
        addresses = master_addresses(master)
        # Unset, Spark advertises the host name of SPARK_LOCAL_IP (often localhost): unreachable from other hosts.
        if addresses and "spark.driver.host" not in config:
            config["spark.driver.host"] = route_address(*addresses[0])
    return config


def start_spark_session(config: dict[str, str], artifacts_dir: str | None = None, connect_timeout: float = 10):
    """A Spark session for ``config`` (as PySparkResource builds it), after ``prepare_spark_config``'s checks;
    a failing start raises SparkSetupError with the JVM's first line instead of its stack trace."""
    from dagster_pyspark.resources import spark_session_from_config

    config = prepare_spark_config(config, artifacts_dir, connect_timeout)
    try:
        return spark_session_from_config(config)
    except Exception as error:  # py4j / pyspark errors carry the whole JVM trace in their text
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        raise SparkSetupError(f"Spark did not start on {config['spark.master']}: {first}") from None


class SparkResource(LazyPySparkResource):
    """A Spark session started on first use, after the checks of ``prepare_spark_config`` (one-line errors), with
    the validated checkpoint folder. Lazy, so a step that may use Spark (``recommendation_quality``'s optional
    rating model, the Spark model IO manager) starts no JVM unless it does. One session per process: every Spark
    asset of a run executed in one process (the in_process executor, ``dagster.materialize``) shares one Spark
    application."""

    artifacts_dir: str | None = Field(default=None, description="Local masters checkpoint under <artifacts_dir>/spark-checkpoints.")
    connect_timeout: float = Field(default=10, description="Seconds to wait for the master's TCP port.")

    def _init_session(self) -> None:
        if self._spark_session is None:
            self._spark_session = start_spark_session(self.spark_config, self.artifacts_dir, self.connect_timeout)

    @property
    def checkpoint_dir(self) -> str:
        """The validated checkpoint folder (``SPIN_REEL_SPARK_CHECKPOINT_DIR``; required on a cluster)."""
        return checkpoint_location(self.spark_config, self.artifacts_dir)
