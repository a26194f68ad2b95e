"""Load test of the web app under gunicorn with wrk: requests/s, p50, p99 and errors per route.

    python bench/web.py                 # against the sample stack built from data/sample (like the web tests)
    SPIN_REEL_ARTIFACTS_DIR=artifacts python bench/web.py   # against real artifacts and the SPIN_REEL_* stores
                                                            # (the sample stack when that directory has none)

Routes: /api/users/<id>/recommendations (a Lua script rotates over the users of the artifacts) and
/movies/<id> (rotating over movies with similar lists). Goal on 2 cores: >= 1,500 req/s on the API route with
p99 <= 20 ms and no errors. Needs Debian's wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spin_reel_assets.devtools import devstores  # noqa: E402
from spin_reel_assets.schema import HYBRID_MANIFEST_PATH, MOVIE_ID, SIMILAR_MOVIES_PATH, USER_ID, USER_RECOMMENDATIONS_PATH  # noqa: E402
from tests.web.sample_stack import build_stack  # noqa: E402

GUNICORN_CONF = REPO / "spin_reel_web" / "gunicorn.conf.py"
ROTATING_IDS = 200  # ids per Lua script

LUA = """
local ids = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", string.format("%s", ids[(counter %% #ids) + 1]))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def sample_stack_environ() -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL database, MongoDB server and artifacts directory holding the sample stack."""
    server_url = os.environ.get("SPIN_REEL_TEST_POSTGRES_URL") or devstores.ensure_postgres()
    database = f"spin_reel_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    work = Path(tempfile.mkdtemp(prefix="spin-reel-bench-"))
    mongo_port = free_port()
    mongo_uri, mongo_process = devstores.start_mongo(work / "state", port=mongo_port, storage=str(work / "mongo"))
    try:
        print("building the sample stack from data/sample ...", flush=True)
        stack = build_stack(work / "artifacts", mongo_uri, "spin_reel_bench", f"{server_url.rpartition('/')[0]}/{database}")
        yield stack.environ()
    finally:
        if mongo_process is not None:
            devstores.stop_mongo(work / "state", port=mongo_port)
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        shutil.rmtree(work, ignore_errors=True)


def _sample_ids(path: Path, column: str) -> list[int]:
    ids = pc.unique(pq.read_table(path, columns=[column]).column(column)).to_pylist()
    return sorted(ids)[:ROTATING_IDS]


@contextlib.contextmanager
def gunicorn(environ: dict[str, str], port: int) -> Iterator[str]:
    env = {**os.environ, **environ, "SPIN_REEL_WEB_BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(REPO)}
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "spin_reel_web:create_app()"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"gunicorn did not become healthy:\n{log.read()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> dict:
    """Requests/s, p50/p99 latency (ms) and errors (socket errors + non-2xx/3xx responses) from wrk --latency."""
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),
        "p99_ms": _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "errors": (sum(map(int, socket_errors.groups())) if socket_errors else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def run_wrk(base: str, path_format: str, ids: list[int], threads: int, connections: int, duration: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (", ".join(map(str, ids)), path_format))
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script.name, base]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    return parse_wrk(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--warmup", default="2s")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    real = os.environ.get("SPIN_REEL_ARTIFACTS_DIR")
    if real and not (Path(real) / HYBRID_MANIFEST_PATH).exists():
        print(f"no artifacts in {real}: benchmarking the sample stack instead")
        real = None
    stack = contextlib.nullcontext({}) if real else sample_stack_environ()
    with stack as environ:
        artifacts = Path(environ.get("SPIN_REEL_ARTIFACTS_DIR") or real)
        routes = {
            "/api/users/<id>/recommendations": ("/api/users/%d/recommendations", _sample_ids(artifacts / USER_RECOMMENDATIONS_PATH, USER_ID)),
            "/movies/<id>": ("/movies/%d", _sample_ids(artifacts / SIMILAR_MOVIES_PATH, MOVIE_ID)),
        }
        with gunicorn(environ, free_port()) as base:
            print(f"gunicorn on {base} ({'real artifacts in ' + real if real else 'sample stack'}); "
                  f"wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency")
            results = {}
            for route, (path_format, ids) in routes.items():
                run_wrk(base, path_format, ids, args.threads, args.connections, args.warmup)  # fill the caches
                results[route] = run_wrk(base, path_format, ids, args.threads, args.connections, args.duration)
    print(f"\n{'route':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for route, result in results.items():
        print(f"{route:<34} {result['requests_per_second']:>9.0f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
              f"{result['requests']:>9} {result['errors']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
