"""Load test of the web app under gunicorn with wrk: requests/s, p50, p99 and errors per route.

    python bench/web.py                 # against the sample stack built from data/sample (like the web tests)
    SPIN_REEL_ARTIFACTS_DIR=artifacts python bench/web.py   # against real artifacts and the SPIN_REEL_* stores
                                                            # (the sample stack when that directory has none)
    python bench/web.py --scale         # `make bench-web-scale`: the sample beside artifacts at 162k users x 1M
                                        # movies written in the published schema, 2 workers each: the serving_form
                                        # asset's build, time to each worker's first 200 (after it, on a restart,
                                        # and without it), PSS of the workers, the three routes (also at one
                                        # connection), cold-start recall@20

Routes: /api/users/<id>/recommendations (a Lua script rotates over the users of the artifacts) and
/movies/<id> (rotating over movies with precomputed similar lists; with --scale also over movies whose list the
app ranks on request). Goal on 2 cores: >= 1,500 req/s on the API route with
p99 <= 20 ms and no errors. Needs Debian's wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spin_reel_assets.devtools import devstores  # noqa: E402
from spin_reel_assets.devtools.processes import stop_process  # noqa: E402
from spin_reel_assets.schema import DEFAULT_SIMILAR_CANDIDATES, HYBRID_MANIFEST_PATH, MOVIE_ID, SIMILAR_MOVIES_PATH, USER_ID, USER_RECOMMENDATIONS_PATH  # noqa: E402
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
        stop_process(process)
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


POST_LUA = """
local bodies = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/recommendations", {["Content-Type"] = "application/json"}, bodies[(counter %% #bodies) + 1])
end
"""


def run_wrk(base: str, path_format: str, ids: list, threads: int, connections: int, duration: str) -> dict:
    """wrk over GETs of ``path_format % id`` or, with path_format "POST", cold-start POSTs liking each id list."""
    if path_format == "POST":
        text = POST_LUA % ", ".join("'" + json.dumps({"liked": liked}) + "'" for liked in ids)
    else:
        text = LUA % (", ".join(map(str, ids)), path_format)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(text)
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
    parser.add_argument("--scale", action="store_true", help="the sample beside synthetic artifacts at scale")
    parser.add_argument("--users", type=int, default=162_000)
    parser.add_argument("--movies", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    if args.scale:
        return scale_main(args)

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


# --- at scale -------------------------------------------------------------------------------------------------

def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _list_column(matrix: np.ndarray, missing: np.ndarray) -> pa.Array:
    offsets = pa.array(np.arange(len(matrix) + 1, dtype=np.int32) * matrix.shape[1])
    return pa.ListArray.from_arrays(offsets, pa.array(np.nan_to_num(matrix).ravel()), mask=pa.array(missing))


def write_scale_artifacts(directory: Path, n_users: int, n_movies: int, top_n: int = 20, content_dim: int = 128,
                          als_rank: int = 64, topics: int = 2_000, seed: int = 7) -> None:
    """hybrid/*.parquet + manifest in the published schema, at the given size, from numpy alone.

    The vectors have the structure the cold start's search depends on: content vectors are a topic (Zipf-popular
    among ``topics``) plus 0.4 of a second one plus noise, on a decaying spectrum like an SVD's, unit length; ALS
    factors follow the same topics, long for the 6% "rated" movies (log-normal lengths), short for the imputed
    rest, missing for 2%. The ranked lists are random ids with descending scores (their content does not matter
    to serving, their size does)."""
    rng = np.random.default_rng(seed)
    tmdb_ids = (np.sort(rng.choice(3 * n_movies, size=n_movies, replace=False)) + 1).astype(np.int64)
    popularity = 1.0 / (np.arange(topics) + 20.0)
    primary = rng.choice(topics, size=n_movies, p=popularity / popularity.sum())
    secondary = rng.integers(0, topics, n_movies)
    spectrum = (1.0 / np.sqrt(1.0 + np.arange(content_dim) / 8.0)).astype(np.float32)
    centers = _unit(rng.standard_normal((topics, content_dim), dtype=np.float32) * spectrum)
    factors = rng.standard_normal((topics, als_rank), dtype=np.float32) * 0.3
    rated = rng.random(n_movies) < 0.06
    lengths = np.where(rated, rng.lognormal(0, 0.5, n_movies), 0.3).astype(np.float32)
    content = np.empty((n_movies, content_dim), np.float32)
    als = np.empty((n_movies, als_rank), np.float32)
    for start in range(0, n_movies, 100_000):
        block = slice(start, start + 100_000)
        size = len(primary[block])
        noise = rng.standard_normal((size, content_dim), dtype=np.float32) * spectrum * 0.08
        content[block] = _unit(centers[primary[block]] + 0.4 * centers[secondary[block]] + noise)
        noise = rng.standard_normal((size, als_rank), dtype=np.float32) * np.where(rated[block], 0.3, 0.1)[:, None]
        als[block] = (factors[primary[block]] + 0.5 * factors[secondary[block]] + noise) * lengths[block, None]
    no_factors = rng.random(n_movies) < 0.02
    als[no_factors] = np.nan

    def descending(rows: int) -> np.ndarray:
        return np.sort(rng.random((rows, top_n), dtype=np.float32), axis=1)[:, ::-1].ravel()

    # Similar lists for the rated movies only, as the pipeline writes them: the app ranks the others' on request.
    listed = tmdb_ids[rated]
    n_user_rows, n_similar_rows = n_users * top_n, len(listed) * top_n
    tables = {
        USER_RECOMMENDATIONS_PATH: pa.table({
            "user_id": np.repeat(np.arange(1, n_users + 1, dtype=np.int64), top_n),
            "rank": np.tile(np.arange(1, top_n + 1, dtype=np.int32), n_users),
            "tmdb_id": tmdb_ids[rng.integers(0, n_movies, n_user_rows)], "score": descending(n_users),
            "als_score": rng.random(n_user_rows, dtype=np.float32), "content_score": rng.random(n_user_rows, dtype=np.float32),
            "because_tmdb_id": tmdb_ids[rng.integers(0, n_movies, n_user_rows)]}),
        SIMILAR_MOVIES_PATH: pa.table({
            "tmdb_id": np.repeat(listed, top_n), "rank": np.tile(np.arange(1, top_n + 1, dtype=np.int32), len(listed)),
            "similar_tmdb_id": tmdb_ids[rng.integers(0, n_movies, n_similar_rows)], "score": descending(len(listed)),
            "content_score": rng.random(n_similar_rows, dtype=np.float32),
            "als_score": rng.random(n_similar_rows, dtype=np.float32)}),
        "hybrid/item_embeddings.parquet": pa.table({
            "tmdb_id": tmdb_ids, "content": _list_column(content, np.zeros(n_movies, bool)),
            "als": _list_column(als, no_factors), "als_imputed": pa.array(~rated & ~no_factors)}),
    }
    for path, table in tables.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, directory / path, compression="zstd")
    manifest = {"weight": 0.5, "top_n": top_n, "similar_lists": "rated", "similar_candidates": DEFAULT_SIMILAR_CANDIDATES,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(), "users": n_users, "movies": n_movies}
    (directory / HYBRID_MANIFEST_PATH).write_text(json.dumps(manifest))


def _workers(master: int) -> list[int]:
    with open(f"/proc/{master}/task/{master}/children") as children:
        return [int(pid) for pid in children.read().split()]


def pss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:")) / 1024


@contextlib.contextmanager
def gunicorn_workers(environ: dict[str, str], port: int, workers: int, probe_path: str) -> Iterator[tuple]:
    """gunicorn with ``workers`` workers and an access log naming the pid: yields (base url, master pid,
    seconds from start to each worker's first 200 on ``probe_path``)."""
    log_path = Path(tempfile.mkstemp(suffix=".log")[1])
    env = {**os.environ, **environ, "SPIN_REEL_WEB_BIND": f"127.0.0.1:{port}", "PYTHONPATH": str(REPO),
           "SPIN_REEL_WEB_WORKERS": str(workers)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--access-logfile", str(log_path),
         "--access-logformat", "%(p)s %(s)s", "spin_reel_web:create_app()"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    first: dict[str, float] = {}
    lock = threading.Lock()

    def probe() -> None:
        while len(first) < workers and time.monotonic() - started < 600 and process.poll() is None:
            try:
                with urllib.request.urlopen(base + probe_path, timeout=600) as response:
                    ok = response.status == 200
            except OSError:
                time.sleep(0.02)
                continue
            now = time.monotonic() - started
            if ok:
                with lock:
                    for line in log_path.read_text().splitlines():
                        pid, _, status = line.partition(" ")
                        if status == "200" and pid not in first:
                            first[pid] = now

    try:
        threads = [threading.Thread(target=probe) for _ in range(4 * workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(first) < workers:
            raise RuntimeError(f"gunicorn workers did not all answer 200 on {probe_path}")
        yield base, process.pid, sorted(first.values())
    finally:
        stop_process(process)
        log_path.unlink(missing_ok=True)


def _rotation(artifacts: Path, rng: np.random.Generator) -> dict[str, tuple[str, list]]:
    users = pc.unique(pq.read_table(artifacts / USER_RECOMMENDATIONS_PATH, columns=[USER_ID]).column(USER_ID)).to_numpy()
    movies = pc.unique(pq.read_table(artifacts / SIMILAR_MOVIES_PATH, columns=[MOVIE_ID]).column(MOVIE_ID)).to_numpy()
    items = pq.read_table(artifacts / "hybrid/item_embeddings.parquet", columns=[MOVIE_ID]).column(MOVIE_ID).to_numpy()
    liked = [rng.choice(items, size=int(rng.integers(3, 6)), replace=False).tolist() for _ in range(ROTATING_IDS)]
    return {
        "GET /api/users/<id>/recommendations": ("/api/users/%d/recommendations", rng.choice(users, ROTATING_IDS).tolist()),
        "GET /movies/<id>": ("/movies/%d", rng.choice(movies, ROTATING_IDS).tolist()),
        "GET /movies/<id> (list ranked on request)": ("/movies/%d", rng.choice(np.setdiff1d(items, movies),
                                                                                ROTATING_IDS).tolist()),
        "POST /api/recommendations (3-5 liked)": ("POST", liked),
    }


def measure_recall(artifacts: Path, queries: int = 50, seed: int = 11) -> dict:
    """Cold-start recall@20 of the served search against the pipeline's exact computation, and its time."""
    from spin_reel_assets.recommender.hybrid import recommend_from_liked as exact_recommend  # imports faiss: bench only
    from spin_reel_web.artifacts import ArtifactStore
    from spin_reel_web.cold_start import recommend_from_liked, similar_to

    snapshot = ArtifactStore(artifacts).current()
    vectors, rows = snapshot.items.vectors, np.arange(len(snapshot.items))
    content, als = vectors.content.vectors_of(rows), vectors.als.vectors_of(rows)
    rng = np.random.default_rng(seed)
    recalls, served, exact_times = [], [], []
    for _ in range(queries):
        liked = rng.choice(len(rows), size=int(rng.integers(3, 6)), replace=False)
        started = time.perf_counter()
        exact = exact_recommend(liked, content, als, snapshot.weight, n=20)["item"]
        exact_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = recommend_from_liked(liked, vectors, snapshot.weight, 20)["item"]
        served.append(time.perf_counter() - started)
        recalls.append(np.isin(exact, found).mean())
    # Similar lists of movies without a precomputed one: the inverted-index scan against scanning every movie.
    unlisted = np.flatnonzero(~np.isin(snapshot.items.tmdb_ids, snapshot.similar_movies.keys) & np.any(content != 0, axis=1))
    similar_recalls, similar_served = [], []
    for row in rng.choice(unlisted, size=min(queries, len(unlisted)), replace=False):
        exact = similar_to(row, vectors, snapshot.weight, 20, snapshot.similar_candidates, budget=len(rows))["item"]
        started = time.perf_counter()
        found = similar_to(row, vectors, snapshot.weight, 20, snapshot.similar_candidates)["item"]
        similar_served.append(time.perf_counter() - started)
        similar_recalls.append(np.isin(exact, found).mean())
    return {"recall": float(np.mean(recalls)), "min_recall": float(np.min(recalls)),
            "served_ms": 1000 * float(np.median(served)), "exact_ms": 1000 * float(np.median(exact_times)),
            "similar_recall": float(np.mean(similar_recalls)), "similar_min_recall": float(np.min(similar_recalls)),
            "similar_served_ms": 1000 * float(np.median(similar_served))}


def _serve_and_load(label: str, environ: dict, artifacts: Path, args, rng) -> dict:
    from spin_reel_web import serving_form

    rotation = _rotation(artifacts, rng)
    probe = rotation["GET /api/users/<id>/recommendations"][0] % rotation["GET /api/users/<id>/recommendations"][1][0]
    result = {"label": label}
    cache = artifacts / ".serving"
    shutil.rmtree(cache, ignore_errors=True)
    with gunicorn_workers(environ, free_port(), 2, probe) as (_base, _master, first):
        result["first_200_unbuilt"] = first  # no serving_form asset ran: the first worker builds the form
    shutil.rmtree(cache)
    started = time.monotonic()
    serving_form.build(artifacts, cache)  # what the pipeline's serving_form asset does after hybrid_recommendations
    result["asset_build_seconds"] = time.monotonic() - started
    with gunicorn_workers(environ, free_port(), 2, probe) as (_base, _master, first):
        result["first_200_built"] = first
    with gunicorn_workers(environ, free_port(), 2, probe) as (base, master, first):
        result["first_200_restart"] = first
        for route, (path_format, ids) in rotation.items():
            run_wrk(base, path_format, ids, args.threads, args.connections, args.warmup)
            result[route] = run_wrk(base, path_format, ids, args.threads, args.connections, args.duration)
            # One connection: a request's own latency, without the queue of -c32 on two cores.
            result[route]["alone_p50_ms"] = run_wrk(base, path_format, ids, 1, 1, args.duration)["p50_ms"]
        result["pss_mib"] = [pss_mib(pid) for pid in _workers(master)]
    result["serving_form_mib"] = sum(path.stat().st_size for path in cache.rglob("*.arrow")) / 2**20
    return result


def scale_main(args) -> int:
    rng = np.random.default_rng(5)
    with sample_stack_environ() as environ:
        sample = Path(environ["SPIN_REEL_ARTIFACTS_DIR"])
        scale = Path(tempfile.mkdtemp(prefix="spin-reel-bench-scale-"))
        try:
            print(f"writing artifacts at {args.users:,} users x {args.movies:,} movies ...", flush=True)
            started = time.monotonic()
            write_scale_artifacts(scale, args.users, args.movies)
            print(f"  {time.monotonic() - started:.0f} s, {sum(p.stat().st_size for p in (scale / 'hybrid').iterdir()) / 2**20:.0f} MiB "
                  "of Parquet", flush=True)
            results = []
            for label, artifacts in (("sample", sample), (f"{args.movies // 1000}k movies", scale)):
                print(f"serving {label} ...", flush=True)
                results.append(_serve_and_load(label, {**environ, "SPIN_REEL_ARTIFACTS_DIR": str(artifacts)}, artifacts, args, rng))
            print("measuring cold-start recall@20 against the exact computation ...", flush=True)
            recall = {label: measure_recall(path) for label, path in (("sample", sample), ("scale", scale))}
        finally:
            shutil.rmtree(scale, ignore_errors=True)
    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration} --latency; gunicorn, 2 workers x "
          f"{os.environ.get('SPIN_REEL_WEB_THREADS', '4')} threads")
    sample_result, scale_result = results
    def seconds(values: list[float]) -> str:
        return ", ".join(f"{value:.2f}" for value in values) + " s"

    for result in results:
        print(f"\n[{result['label']}] serving_form asset (pipeline): {result['asset_build_seconds']:.1f} s. First 200 "
              f"per worker after start: {seconds(result['first_200_built'])}; restart "
              f"{seconds(result['first_200_restart'])}; without the asset's form (a worker builds it) "
              f"{seconds(result['first_200_unbuilt'])}")
        print(f"[{result['label']}] PSS of the workers after the load: "
              f"{' + '.join(f'{m:.0f}' for m in result['pss_mib'])} = {sum(result['pss_mib']):.0f} MiB "
              f"(serving form on disk {result['serving_form_mib']:.0f} MiB)")
    print(f"\n{'route':<40} {'':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'1-conn p50':>11}")
    for route in sample_result:
        if not isinstance(sample_result[route], dict):
            continue
        for result in results:
            figures = result[route]
            print(f"{route:<40} {result['label']:>11} {figures['requests_per_second']:>8.0f} {figures['p50_ms']:>8.2f} "
                  f"{figures['p99_ms']:>8.2f} {figures['errors']:>7} {figures['alone_p50_ms']:>11.2f}")
        print(f"{'':<40} {'ratio':>11} {scale_result[route]['requests_per_second'] / sample_result[route]['requests_per_second']:>8.2f} "
              f"{scale_result[route]['p50_ms'] / sample_result[route]['p50_ms']:>8.2f} "
              f"{scale_result[route]['p99_ms'] / sample_result[route]['p99_ms']:>8.2f} {'':>7} "
              f"{scale_result[route]['alone_p50_ms'] / sample_result[route]['alone_p50_ms']:>11.2f}")
    for label, figures in recall.items():
        print(f"\ncold start [{label}]: recall@20 vs exact {figures['recall']:.3f} (min {figures['min_recall']:.2f}) "
              f"over 50 liked sets; in-process median {figures['served_ms']:.1f} ms (exact scoring of every movie "
              f"{figures['exact_ms']:.1f} ms)")
        print(f"similar list ranked on request [{label}]: recall@20 vs scanning every movie "
              f"{figures['similar_recall']:.3f} (min {figures['similar_min_recall']:.2f}), in-process median "
              f"{figures['similar_served_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
