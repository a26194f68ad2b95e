"""Start the local stores for the embedded default, `make` and the tests.

PostgreSQL: the Debian cluster on 127.0.0.1:5432, started with ``pg_ctlcluster`` when it is down.
MongoDB: no mongod can be installed on the development machines, so the embedded default runs SecantusDB
(``secantusd-py``, a MongoDB-wire-compatible server) as a separate process. This module is the only place that
knows about it; everything else talks plain MongoDB through pymongo. SecantusDB is an optional extra
(``pip install .[embedded]``) and is never imported, only executed.

    python -m spin_reel_assets.devtools.devstores start    # idempotent; prints the URLs to export
    python -m spin_reel_assets.devtools.devstores stop
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

MONGO_HOST = "127.0.0.1"
MONGO_PORT = int(os.environ.get("SPIN_REEL_EMBEDDED_MONGO_PORT", "27018"))
POSTGRES_PORT = 5432
STATE_DIR = Path(os.environ.get("SPIN_REEL_STATE_DIR", ".state")).resolve()


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start listening on {host}:{port} within {seconds:.0f}s")


def ensure_postgres() -> str:
    """Start the local Debian PostgreSQL cluster if nothing listens on 5432; return its URL."""
    if not port_open("127.0.0.1", POSTGRES_PORT):
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if not versions:
            raise RuntimeError("PostgreSQL is not running and not installed: run `make provision` (apt-get install postgresql)")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True
        )
        wait_for_port("127.0.0.1", POSTGRES_PORT, 30, "PostgreSQL")
    return f"postgresql://postgres@127.0.0.1:{POSTGRES_PORT}/postgres"


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist (connecting to ``postgres`` on that server)."""
    head, _, name = url.rpartition("/")
    name = name.split("?")[0]
    with psycopg.connect(f"{head}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _mongo_binary() -> str:
    candidates = [str(Path(sys.executable).with_name("secantusd-py")), shutil.which("secantusd-py") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("secantusd-py not found: install the embedded extra (pip install -e '.[embedded]')")


def _pid_file(state_dir: Path, port: int) -> Path:
    return state_dir / f"mongo-{port}.pid"


def start_mongo(state_dir: Path = STATE_DIR, port: int = MONGO_PORT, storage: str | None = None) -> tuple[str, subprocess.Popen | None]:
    """Start the embedded Mongo-compatible server unless something already listens on ``port``.

    Returns the URI and the process it started (None when it reused a running server)."""
    uri = f"mongodb://{MONGO_HOST}:{port}"
    if port_open(MONGO_HOST, port):
        return uri, None
    state_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or str(state_dir / "mongo")
    log = open(state_dir / f"mongo-{port}.log", "ab")
    process = subprocess.Popen(
        [_mongo_binary(), "--host", MONGO_HOST, "--port", str(port), "--storage-path", storage, "--log-level", "WARNING"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server: we stop it ourselves
    )
    _pid_file(state_dir, port).write_text(str(process.pid))
    try:
        wait_for_port(MONGO_HOST, port, 60, "The embedded MongoDB server")
    except RuntimeError:
        process.kill()
        raise
    return uri, process


def stop_mongo(state_dir: Path = STATE_DIR, port: int = MONGO_PORT) -> bool:
    pid_file = _pid_file(state_dir, port)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def jdbc_jar() -> str | None:
    for path in [os.environ.get("SPIN_REEL_JDBC_JAR", ""), "/usr/share/java/postgresql.jar", *glob.glob("/usr/share/java/postgresql-*.jar")]:
        if path and os.path.exists(path):
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spin_reel_assets.devtools.devstores", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop"])
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            pg = os.environ.get("SPIN_REEL_POSTGRES_URL")
            if not pg:
                pg = ensure_postgres().rpartition("/")[0] + "/spin_reel"
            ensure_database(pg)
            mongo = os.environ.get("SPIN_REEL_MONGO_URI") or start_mongo()[0]
            print(f"PostgreSQL: {pg.split('@')[-1]}\nMongoDB: {mongo.split('@')[-1]}")
        else:
            print("stopped" if stop_mongo() else "no embedded MongoDB server was running")
    except (RuntimeError, OSError, psycopg.Error, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
