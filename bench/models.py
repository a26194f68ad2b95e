"""Model benchmark: time and peak memory per asset, and Spark ALS beside the `implicit` library's CPU ALS.

    python bench/models.py            (make bench)

Every asset is materialized in a process of its own, on the bundled sample, into fresh stores; its peak memory is
the largest summed RSS of that process tree (the Spark JVM included), sampled every 50 ms. Then Spark ALS and
implicit's ALS fit the same ratings with the same factor count and iterations; the ratio of seconds per iteration
is printed (public benchmarks report Spark 15-23x slower; the goal here is <= 5x).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench_data import bench_stores, dataset
from spin_reel_assets.resources import BUNDLED_SAMPLE

ORDER = ["clean_ratings", "clean_movies", "ratings_table", "movies_table", "movies_collection", "als_model",
         "als_validation_model", "faiss_index", "blend_weights", "hybrid_recommendations", "recommendation_quality"]


def tree_rss(pid: int) -> int:
    """Summed resident memory (bytes) of ``pid`` and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def run_measured(command: list[str], env: dict) -> tuple[float, int, int]:
    """Wall seconds, peak tree RSS and exit code of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = process.communicate()
    sampler.join()
    if process.returncode:
        sys.stderr.write(stderr.decode()[-3000:])
    return time.perf_counter() - started, peak[0], process.returncode


# Throughput figures an asset records in its materialization metadata, reported beside its time and memory.
FIGURES = ("load_seconds", "copy_rows_per_second", "read_rows_per_second", "seconds_per_iteration", "write_seconds",
           "index_seconds", "recall@10_vs_exact", "fit_seconds", "ranking_seconds", "user_lists_seconds",
           "similar_movies_seconds", "impute_seconds", "rows_out", "documents", "rows")
FIGURES_FILE = "SPIN_REEL_BENCH_FIGURES"


def materialize_one(name: str) -> int:
    """Child mode: materialize one asset on $DAGSTER_HOME's instance, upstream read from the stores."""
    import dagster as dg

    from spin_reel_assets.definitions import defs
    from spin_reel_assets.devtools.staleness import observe_sources

    with dg.DagsterInstance.get() as instance:
        resources = dict(defs().resources)
        if name == ORDER[0]:
            observe_sources(instance, list(defs().assets), resources)
        result = dg.materialize(list(defs().assets), instance=instance, resources=resources,
                                selection=dg.AssetSelection.assets(name), raise_on_error=False)
        if result.success and os.environ.get(FIGURES_FILE):
            figures = {key: value.value for event in result.get_asset_materialization_events()
                       for key, value in event.materialization.metadata.items() if key in FIGURES}
            Path(os.environ[FIGURES_FILE]).write_text(json.dumps(figures))
    return 0 if result.success else 1


def measure_graph(data_dir: Path) -> list[dict]:
    """Materialize every asset on ``data_dir`` into fresh stores, each in its own measured process, in order."""
    rows = []
    with bench_stores() as (postgres_url, mongo_uri, name, work):
        env = {**os.environ, "DAGSTER_HOME": str(work / "dagster_home"), "SPIN_REEL_ARTIFACTS_DIR": str(work / "artifacts"),
               "SPIN_REEL_POSTGRES_URL": postgres_url, "SPIN_REEL_MONGO_URI": mongo_uri, "SPIN_REEL_MONGO_DB": name,
               "SPIN_REEL_DATA_DIR": str(data_dir), "SPARK_LOCAL_IP": "127.0.0.1"}
        (work / "dagster_home").mkdir()
        for asset in ORDER:
            figures_file = work / f"{asset}.figures.json"
            seconds, peak, code = run_measured([sys.executable, __file__, "--one", asset], {**env, FIGURES_FILE: str(figures_file)})
            figures = json.loads(figures_file.read_text()) if figures_file.exists() else {}
            rows.append({"asset": asset, "seconds": round(seconds, 2), "peak_mb": round(peak / 2**20), "ok": code == 0,
                         "figures": figures})
            shown = ", ".join(f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}" for key, value in figures.items())
            print(f"{asset:26} {seconds:8.1f} s {peak / 2**20:9.0f} MB{'' if code == 0 else '  FAILED'}  {shown}", flush=True)
            if code:
                break  # its descendants cannot run
    return rows


def als_comparison(data_dir: Path, rank: int, iterations: int, alpha: float, reg: float) -> dict:
    """Seconds per iteration of Spark ALS and implicit's ALS on the clean ratings of ``data_dir``."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from spin_reel_assets.cleaning.inputs import find_input, read_links, read_ratings
    from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map
    from spin_reel_assets.recommender.spark_als import AlsParams, local_session, train_als

    table = clean_ratings(read_ratings(find_input(data_dir, "ratings")),
                          movie_key_map(read_links(find_input(data_dir, "links")))).table
    users = table.column("user_id").to_numpy()
    items = table.column("tmdb_id").to_numpy()
    ratings = table.column("rating").to_numpy().astype(np.float32)
    _, user_index = np.unique(users, return_inverse=True)
    _, item_index = np.unique(items, return_inverse=True)
    # Spark's implicit ALS uses confidence 1 + alpha*r; implicit's uses 1 + value, so pass alpha*r.
    matrix = sp.csr_matrix((alpha * ratings, (user_index, item_index)))
    model = AlternatingLeastSquares(factors=rank, regularization=reg, iterations=iterations, random_state=42,
                                    calculate_training_loss=False)
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; its authors' advice for a nested BLAS pool
        started = time.perf_counter()
        model.fit(matrix, show_progress=False)
        implicit_seconds = time.perf_counter() - started

    spark = local_session()
    frame = spark.createDataFrame(table.select(["user_id", "tmdb_id", "rating"]).to_pandas()).cache()
    frame.count()
    params = AlsParams(rank=rank, max_iter=iterations, reg_param=reg, alpha=alpha)
    with tempfile.TemporaryDirectory() as checkpoints:
        train_als(frame, params, checkpoints)  # warm-up: JIT and the first job's planning
        started = time.perf_counter()
        fitted = train_als(frame, params, checkpoints)
        fitted.userFactors.count()
        spark_seconds = time.perf_counter() - started
    spark.stop()
    return {
        "ratings": len(ratings), "rank": rank, "iterations": iterations,
        "implicit_s_per_iter": implicit_seconds / iterations, "spark_s_per_iter": spark_seconds / iterations,
        "spark_over_implicit": spark_seconds / implicit_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--als-ratings", type=int, nargs="*", default=[0],
                        help="ratings of the ALS comparisons: 0 is the bundled sample, N a synthetic file (e.g. 0 5000000)")
    args = parser.parse_args()
    if args.one:
        return materialize_one(args.one)

    from spin_reel_assets.recommender.spark_als import AlsParams

    rows = measure_graph(BUNDLED_SAMPLE)
    defaults = AlsParams()
    comparisons = []
    for ratings in args.als_ratings:
        label, folder = dataset(ratings)
        als = {"dataset": label, **als_comparison(folder, defaults.rank, defaults.max_iter, defaults.alpha, defaults.reg_param)}
        comparisons.append(als)
        print(f"ALS on {label}: rank {als['rank']}, {als['iterations']} iterations, {als['ratings']:,} ratings: "
              f"Spark {als['spark_s_per_iter']:.3f} s/iter, implicit {als['implicit_s_per_iter']:.3f} s/iter, "
              f"ratio {als['spark_over_implicit']:.1f}x", flush=True)
    print(json.dumps({"bench": "models", "assets": rows, "als": comparisons}))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
