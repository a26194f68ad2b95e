"""The docker-compose stack, validated without a Docker engine.

``docker-compose config`` (Debian's v1) resolves docker-compose.yml with .env.example; the resolved services are
checked against what the code actually reads: the SPIN_REEL_* names come from the settings module, the web app's
config loader and gunicorn.conf.py, the DAGSTER_POSTGRES_* names from deploy/dagster.yaml. deploy/dagster.yaml is
then opened as a real Dagster instance on the local PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"
DEPLOY_WORKSPACE = REPO / "deploy" / "workspace.yaml"
DOCKER_COMPOSE = "/usr/bin/docker-compose"

PROJECT_SERVICES = {"user_code", "webserver", "daemon", "web"}
DAGSTER_SERVICES = {"user_code", "webserver", "daemon"}
ALL_SERVICES = PROJECT_SERVICES | {"postgres", "mongodb"}
PLACEHOLDER = "change-me"


# --- what the code reads ----------------------------------------------------------------------------------------


class RecordingEnv(dict):
    """An empty environment that remembers every variable name looked up in it."""

    def __init__(self, values: dict | None = None):
        super().__init__(values or {})
        self.read: list[str] = []

    def get(self, key, default=None):
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.append(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.append(key)
        return super().__contains__(key)


def env_names_in_dagster_yaml() -> set[str]:
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                names.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(DAGSTER_YAML.read_text()))
    return names


def pipeline_vars() -> tuple[set[str], set[str]]:
    """(required, optional) variables of the code location and the runs it launches."""
    from spin_reel_assets.resources import spark_config_from_env
    from spin_reel_assets.settings import DEFAULTS, FILE_OVERRIDES

    spark = RecordingEnv()
    spark_config_from_env(spark)
    # Connection and location settings fall back to 127.0.0.1 / the source tree: the stack must set them all.
    required = set(DEFAULTS) | set(spark.read)
    return required, set(FILE_OVERRIDES.values())


def web_vars(monkeypatch) -> tuple[set[str], set[str]]:
    """(required, optional) variables of the web service: its config loader and gunicorn.conf.py."""
    from spin_reel_web import config

    recorder = RecordingEnv()
    config.from_env(recorder)
    defaults = config.from_env({})
    required, optional = set(), set()
    for name in set(recorder.read):
        changed = [key for key, value in config.from_env({name: "7.25"}).items() if value != defaults[key]]
        assert len(changed) == 1, f"{name} changes {changed}"
        # Numeric tuning knobs have sensible defaults; store locations and the secret key do not.
        (optional if isinstance(defaults[changed[0]], float) else required).add(name)

    gunicorn = RecordingEnv()
    monkeypatch.setattr(os, "environ", gunicorn)
    runpy.run_path(str(REPO / "spin_reel_web" / "gunicorn.conf.py"))
    monkeypatch.undo()
    assert "SPIN_REEL_WEB_BIND" in gunicorn.read
    required.add("SPIN_REEL_WEB_BIND")  # the default 127.0.0.1:8000 is unreachable from outside a container
    optional |= set(gunicorn.read) - required
    return required, optional


# --- the resolved compose file ----------------------------------------------------------------------------------


def clean_env() -> dict:
    """The test process's environment without anything that compose would substitute instead of .env.example."""
    return {key: value for key, value in os.environ.items()
            if not re.match(r"(SPIN_REEL_|DAGSTER_|POSTGRES_|SPARK_|COMPOSE_|DOCKER_)", key)}


@pytest.fixture(scope="module")
def compose() -> dict:
    if not os.path.exists(DOCKER_COMPOSE):
        pytest.skip(f"{DOCKER_COMPOSE} is missing (Debian package docker-compose; `make test` installs it)")
    result = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def option(cmd: list[str], *flags: str) -> str:
    for index, part in enumerate(cmd):
        if part in flags:
            return cmd[index + 1]
    raise AssertionError(f"none of {flags} in {cmd}")


def mounts(service: dict) -> dict[str, tuple[str, str]]:
    """container path -> (source, mode) of a service's volumes."""
    result = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mode = "ro" if volume.get("read_only") else "rw"
            result[volume["target"]] = (volume["source"], mode)
        else:
            source, target, *rest = volume.split(":")
            result[target] = (source, rest[0] if rest else "rw")
    return result


def healthcheck_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def dockerfile_env() -> dict[str, str]:
    """ENV settings of the Dockerfile's final stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    final_stage = re.split(r"^FROM ", text, flags=re.M)[-1]
    env = {}
    for line in final_stage.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def published(service: dict) -> set[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port."""
    result = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            result.add((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            parts = str(port).split(":")
            ip = parts[0] if len(parts) == 3 else ""
            result.add((ip, int(parts[-2]), int(parts[-1].split("/")[0])))
    return result


# --- tests ------------------------------------------------------------------------------------------------------


def test_services_images_and_commands(services):
    assert set(services) == ALL_SERVICES
    assert services["postgres"]["image"] == "postgres:16"
    mongo_image = services["mongodb"]["image"]
    assert mongo_image.startswith("mongo:") and int(mongo_image.split(":")[1].split(".")[0]) >= 7
    # one image, built from this repository, for every service that runs the project
    assert {services[name]["image"] for name in PROJECT_SERVICES} == {"spin-reel:latest"}
    for name in PROJECT_SERVICES:
        assert Path(services[name]["build"]["context"]).resolve() == REPO

    user_code = command(services["user_code"])
    assert user_code[:3] == ["dagster", "code-server", "start"]
    assert option(user_code, "-h", "--host") == "0.0.0.0"
    assert option(user_code, "-m", "--module-name") == "spin_reel_assets.definitions"

    webserver = command(services["webserver"])
    assert webserver[0] == "dagster-webserver"
    assert option(webserver, "-h", "--host") == "0.0.0.0" and option(webserver, "-p", "--port") == "3000"

    daemon = command(services["daemon"])
    assert daemon[:2] == ["dagster-daemon", "run"]
    # both must go through the code server: the root workspace.yaml would load the code in-process
    for cmd in (webserver, daemon):
        assert option(cmd, "-w", "--workspace") == "/opt/dagster/app/deploy/workspace.yaml"

    web = command(services["web"])
    assert web[0] == "gunicorn" and web[-1] == "spin_reel_web:create_app()"
    assert environment(services["web"])["SPIN_REEL_WEB_BIND"] == "0.0.0.0:5000"
    # the gunicorn settings file the command names is the project's, copied there by the Dockerfile
    dockerfile = DOCKERFILE.read_text()
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    assert option(web, "-c", "--config") == f"{workdir}/gunicorn.conf.py"
    assert re.search(r"^COPY spin_reel_web/gunicorn\.conf\.py \./gunicorn\.conf\.py$", dockerfile, re.M)


def test_ports(services):
    assert published(services["webserver"]) == {("127.0.0.1", 3000, 3000)}
    assert published(services["web"]) == {("127.0.0.1", 5000, 5000)}
    for name in ALL_SERVICES - {"webserver", "web"}:
        assert not published(services[name]), f"{name} should stay on the compose network"


def test_healthchecks(services):
    for name in ALL_SERVICES:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in healthcheck_command(services["postgres"])
    mongo = healthcheck_command(services["mongodb"])
    assert "mongosh" in mongo and "ping" in mongo
    user_code = services["user_code"]["healthcheck"]["test"]
    assert "grpc-health-check" in user_code
    assert option(user_code, "-p", "--port") == option(command(services["user_code"]), "-p", "--port")
    assert ":3000/server_info" in healthcheck_command(services["webserver"])
    assert "liveness-check" in healthcheck_command(services["daemon"])
    assert ":5000/healthz" in healthcheck_command(services["web"])


def test_depends_on_healthy(services):
    expected = {
        "user_code": {"postgres", "mongodb"},
        "webserver": {"postgres", "user_code"},
        "daemon": {"postgres", "user_code"},
        "web": {"postgres", "mongodb"},
    }
    for name, dependencies in expected.items():
        depends_on = services[name]["depends_on"]
        assert set(depends_on) == dependencies, name
        for dependency in dependencies:
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency]


def test_volumes(compose, services):
    named = set(compose["volumes"])
    assert {"postgres_data", "mongo_data", "artifacts", "dagster_storage"} <= named
    assert mounts(services["postgres"])["/var/lib/postgresql/data"][0] == "postgres_data"
    assert mounts(services["mongodb"])["/data/db"][0] == "mongo_data"

    # the artifacts the runs write (user_code) are the ones the web app reads: same volume, same path
    for name in ("user_code", "web"):
        path = environment(services[name])["SPIN_REEL_ARTIFACTS_DIR"]
        assert mounts(services[name])[path][0] == "artifacts", name
    assert mounts(services["user_code"])[environment(services["user_code"])["SPIN_REEL_ARTIFACTS_DIR"]][1] == "rw"
    assert {name for name, service in services.items()
            if any(source == "artifacts" for source, _ in mounts(service).values())} == {"user_code", "web"}
    # the web app reads them only; its own serving-form cache (when the runs' serving_form is missing) is writable
    assert mounts(services["web"])[environment(services["web"])["SPIN_REEL_ARTIFACTS_DIR"]][1] == "ro"
    assert mounts(services["web"])[environment(services["web"])["SPIN_REEL_SERVING_DIR"]] == ("serving_cache", "rw")

    # Dagster's local storage (compute logs) is shared by the Dagster services under $DAGSTER_HOME/storage
    dagster_home = dockerfile_env()["DAGSTER_HOME"]
    for name in DAGSTER_SERVICES:
        assert mounts(services[name])[f"{dagster_home}/storage"][0] == "dagster_storage", name

    # PostgreSQL holds two databases: Dagster's (POSTGRES_DB) and the pipeline's, created by the init SQL
    postgres_env = environment(services["postgres"])
    init = [(source, target) for target, (source, _) in mounts(services["postgres"]).items()
            if target.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1
    init_sql = Path(init[0][0]).read_text()
    pipeline_db = urlsplit(environment(services["user_code"])["SPIN_REEL_POSTGRES_URL"]).path.lstrip("/")
    assert re.search(rf"CREATE DATABASE\s+{pipeline_db}\s*;", init_sql, re.I)
    assert pipeline_db != postgres_env["POSTGRES_DB"]


def test_data_dir_is_the_sample_in_the_image(services):
    data_dir = environment(services["user_code"])["SPIN_REEL_DATA_DIR"]
    dockerfile = DOCKERFILE.read_text()
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    assert re.search(r"^COPY data/sample \./data/sample$", dockerfile, re.M)
    assert data_dir == f"{workdir}/data/sample" == dockerfile_env()["SPIN_REEL_DATA_DIR"]
    assert any((REPO / "data" / "sample").glob("ratings.*"))


def test_every_variable_the_code_reads_is_provided(services, monkeypatch):
    pipeline_required, pipeline_optional = pipeline_vars()
    web_required, web_optional = web_vars(monkeypatch)
    instance_vars = env_names_in_dagster_yaml()
    assert instance_vars == {f"DAGSTER_POSTGRES_{part}" for part in ("USER", "PASSWORD", "HOST", "DB", "PORT")}

    readers = {
        "user_code": pipeline_required | instance_vars,  # the code location and the runs it launches
        "webserver": instance_vars,
        "daemon": instance_vars,
        "web": web_required,
    }
    for name, required in readers.items():
        env = environment(services[name])
        missing = required - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        empty = {var for var in required - {"SPIN_REEL_SPARK_CONF"} if not env[var]}
        assert not empty, f"{name} sets {sorted(empty)} empty"

    # nothing set that no code reads (a typo would silently fall back to a default); SPARK_LOCAL_IP is Spark's own
    known = pipeline_required | pipeline_optional | web_required | web_optional | instance_vars | {"SPARK_LOCAL_IP"}
    for name in PROJECT_SERVICES:
        ours = {var for var in environment(services[name]) if re.match(r"(SPIN_REEL_|DAGSTER_POSTGRES_|SPARK_)", var)}
        assert ours <= known, f"{name} sets unknown {sorted(ours - known)}"


def test_variable_values_point_at_the_stack(services):
    postgres = environment(services["postgres"])
    user_code, web = environment(services["user_code"]), environment(services["web"])

    for name in DAGSTER_SERVICES:
        env = environment(services[name])
        assert env["DAGSTER_POSTGRES_HOST"] == "postgres" and env["DAGSTER_POSTGRES_PORT"] == "5432"
        assert env["DAGSTER_POSTGRES_USER"] == postgres["POSTGRES_USER"]
        assert env["DAGSTER_POSTGRES_PASSWORD"] == postgres["POSTGRES_PASSWORD"]
        assert env["DAGSTER_POSTGRES_DB"] == postgres["POSTGRES_DB"]

    url = urlsplit(user_code["SPIN_REEL_POSTGRES_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", "postgres", 5432, "/spin_reel")
    assert (url.username, url.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert user_code["SPIN_REEL_MONGO_URI"] == "mongodb://mongodb:27017"
    # the pipeline writes where the web app reads
    for var in ("SPIN_REEL_POSTGRES_URL", "SPIN_REEL_MONGO_URI", "SPIN_REEL_MONGO_DB", "SPIN_REEL_ARTIFACTS_DIR"):
        assert user_code[var] == web[var], var
    assert user_code["SPARK_MASTER"] == "local[*]"
    assert user_code["SPIN_REEL_JDBC_JAR"] == "/usr/share/java/postgresql.jar"
    assert "spark://" in COMPOSE_FILE.read_text() and "spark://" in ENV_EXAMPLE.read_text()
    assert web["SPIN_REEL_SECRET_KEY"]


def test_workspace_matches_user_code(services):
    workspace = yaml.safe_load(DEPLOY_WORKSPACE.read_text())
    [entry] = workspace["load_from"]
    grpc = entry["grpc_server"]
    user_code = command(services["user_code"])
    assert grpc["host"] == "user_code" and grpc["host"] in services
    assert str(grpc["port"]) == option(user_code, "-p", "--port") == "4000"
    assert grpc["location_name"] == option(user_code, "--location-name") == "spin_reel"
    # the path the webserver and daemon commands use is where the Dockerfile puts this file
    assert re.search(r"^COPY deploy/workspace\.yaml .*\./deploy/$", DOCKERFILE.read_text(), re.M)
    assert re.findall(r"^WORKDIR (\S+)", DOCKERFILE.read_text(), re.M)[-1] == "/opt/dagster/app"


def test_user_code_module_loads_with_the_stack_environment(services):
    """The module of the user_code command imports and its defs load with that service's environment.

    The hosts `postgres` and `mongodb` do not resolve here: loading must not connect to anything."""
    module = option(command(services["user_code"]), "-m", "--module-name")
    env = {**clean_env(), **environment(services["user_code"]), "DAGSTER_HOME": tempfile.mkdtemp(prefix="dh-")}
    env["SPIN_REEL_DATA_DIR"] = str(REPO / "data" / "sample")  # the image's path does not exist here
    env["SPIN_REEL_ARTIFACTS_DIR"] = tempfile.mkdtemp(prefix="spin-reel-artifacts-")
    probe = (
        "import importlib, json, dagster as dg\n"
        f"defs = importlib.import_module({module!r}).defs()\n"
        "assert isinstance(defs, dg.Definitions)\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "graph = defs.resolve_asset_graph()\n"
        "resources = defs.resources\n"
        "print(json.dumps({'assets': sorted(k.to_user_string() for k in graph.get_all_asset_keys()),\n"
        "                  'postgres_url': type(resources['postgres'].url).__name__}))\n"
    )
    try:
        result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=120)
    finally:
        shutil.rmtree(env["DAGSTER_HOME"], ignore_errors=True)
        shutil.rmtree(env["SPIN_REEL_ARTIFACTS_DIR"], ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"clean_ratings", "hybrid_recommendations", "ratings_file"} <= set(loaded["assets"])
    assert loaded["postgres_url"] == "EnvVar"  # set variables are bound as EnvVar: resolved per run, never shown


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not KEY=VALUE: {line}"
            values[key.strip()] = value.strip()
    return values


def test_env_example_defines_every_variable_with_placeholders_only():
    example = parse_env_file(ENV_EXAMPLE)
    # every ${VAR}, ${VAR:-default} or ${VAR:?error} of the compose file (not $${VAR}, the container's own)
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))
    assert used, "the compose file takes its settings from .env"
    assert used <= set(example), f"not in .env.example: {sorted(used - set(example))}"

    secrets = {key for key in example if re.search(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", key)}
    assert {"POSTGRES_PASSWORD", "SPIN_REEL_SECRET_KEY"} <= secrets
    for key in secrets:
        assert example[key] == PLACEHOLDER, f"{key} must be the placeholder {PLACEHOLDER!r}"
    for key, value in example.items():
        assert "@" not in value, f"{key}: credentials belong in the separate variables"
        assert not re.search(r"[A-Za-z0-9+/=_-]{32,}", value), f"{key} looks like a real secret"

    # .env stays out of the image build context
    dockerignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and ".venv" in dockerignore


def test_dockerfile():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages and all(image == "python:3.11-slim-bookworm" for image in stages)
    assert re.search(r"apt-get install .*openjdk-17-jre-headless libpostgresql-jdbc-java", text)
    assert "[test]" not in text and " -e " not in text  # non-editable, no test extras
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    env = dockerfile_env()
    assert env["DAGSTER_HOME"] == "/opt/dagster/home"
    assert re.search(rf"^COPY .*deploy/dagster\.yaml {env['DAGSTER_HOME']}/dagster\.yaml$", text, re.M)
    assert env["SPARK_LOCAL_IP"] and env["SPIN_REEL_ARTIFACTS_DIR"]


# --- deploy/dagster.yaml as a Dagster instance ------------------------------------------------------------------


def test_dagster_yaml_passes_dagster_config_validation():
    from dagster._core.instance.config import dagster_instance_config

    config, custom_class = dagster_instance_config(str(DAGSTER_YAML.parent))
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"


@pytest.fixture
def dagster_db(postgres_server_url):
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    name = f"spin_reel_dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres_server_url.rpartition("/")[0] + "/" + name
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_dagster_yaml_opens_a_postgres_instance(dagster_db, tmp_path, monkeypatch):
    import dagster as dg
    from dagster._core.launcher import DefaultRunLauncher
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._core.scheduler import DagsterDaemonScheduler
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    url = urlsplit(dagster_db)
    monkeypatch.setenv("DAGSTER_POSTGRES_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_POSTGRES_PASSWORD", url.password or "")
    monkeypatch.setenv("DAGSTER_POSTGRES_HOST", url.hostname)
    monkeypatch.setenv("DAGSTER_POSTGRES_DB", url.path.lstrip("/"))
    monkeypatch.setenv("DAGSTER_POSTGRES_PORT", str(url.port or 5432))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")  # as the Dockerfile does, and `cp deploy/dagster.yaml $DAGSTER_HOME/`
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.run_launcher, DefaultRunLauncher)
        assert isinstance(instance.scheduler, DagsterDaemonScheduler)

        run = DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=DagsterRunStatus.NOT_STARTED,
                         tags={"spin_reel/test": "deploy"})
        instance.add_run(run)
        stored = instance.get_run_by_id(run.run_id)
        assert stored is not None and stored.job_name == "__ASSET_JOB"
        assert stored.tags["spin_reel/test"] == "deploy" and stored.status == DagsterRunStatus.NOT_STARTED
    finally:
        instance.dispose()

    # the records are in that PostgreSQL database, in Dagster's tables
    with psycopg.connect(dagster_db) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"runs", "event_logs", "jobs", "instigators"} <= tables
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id = %s", (run.run_id,)).fetchone()[0] == 1


def test_jdbc_url_keeps_connection_parameters_and_keeps_credentials_out():
    from spin_reel_assets.resources import PostgresResource

    url, props = PostgresResource(url="postgresql://reel:s3cret@db.internal:6432/spin_reel?sslmode=require").jdbc()
    assert url == "jdbc:postgresql://db.internal:6432/spin_reel?sslmode=require"
    assert props == {"user": "reel", "password": "s3cret", "driver": "org.postgresql.Driver"}
