"""What one Spark application per asset costs on a standalone cluster, against one shared application.

Dagster's default multiprocess executor runs each asset step in its own process, so each Spark asset of a run
(als_model, recommendation_quality, hybrid_recommendations via the Spark model IO manager) is its own driver and
its own Spark application; the in_process executor (and dagster.materialize) shares one. This starts a master and
a worker from the installed pyspark and measures, on the same cluster in the same run:

- per asset: a fresh process per application, as a multiprocess step is (Python + Spark JVM start, application
  registration, executor launch, JDBC jar fetch), timed to the end of a one-row JDBC task on the executor;
- shared: the same JDBC task again in an application that is already up;
- from the master's and the worker's logs: executor launch (master schedules it → it registered with the driver)
  and the jar fetch on the executor.

    python bench/spark_apps.py --apps 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spin_reel_assets.devtools import devstores  # noqa: E402
from spin_reel_assets.devtools.spark_standalone import standalone_cluster  # noqa: E402

ONE_APP = """
import json, sys, time
started = time.perf_counter()
from spin_reel_assets.recommender.spark_als import probe_jdbc
from spin_reel_assets.resources import PostgresResource, spark_config_from_env, start_spark_session
spark = start_spark_session(spark_config_from_env(), sys.argv[2])
session = time.perf_counter()
url, props = PostgresResource(url=sys.argv[1]).jdbc()
def reader():
    r = spark.read.format("jdbc").option("url", url)
    for k, v in props.items():
        r = r.option(k, v)
    return r
probe_jdbc(spark, reader(), 300)
first = time.perf_counter()
again = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); probe_jdbc(spark, reader(), 300); again.append(time.perf_counter() - t)
print(json.dumps({"app_id": spark.sparkContext.applicationId, "session": session - started,
                  "first_task": first - started, "task_in_running_app": again}))
spark.stop()
"""

STAMP = re.compile(r"^(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)")


def stamp(line: str) -> datetime | None:
    match = STAMP.match(line)
    return datetime.strptime(match.group(1), "%y/%m/%d %H:%M:%S") if match else None


def first_time(lines: list[str], needle: str) -> datetime | None:
    return next((stamp(line) for line in lines if needle in line and stamp(line)), None)


def executor_phases(cluster, app_id: str, daemon_log: Path) -> dict:
    """Seconds from the master launching the executor to its registration with the driver, and for the jar fetch."""
    master = daemon_log.read_text().splitlines()
    launched = first_time(master, f"Launching executor {app_id}/")
    stderr = next((cluster.work_dir / app_id).glob("*/stderr")).read_text().splitlines()
    registered = first_time(stderr, "Successfully registered with driver")
    fetch = first_time(stderr, "/jars/postgresql.jar")
    added = first_time(stderr, "postgresql.jar to class loader")
    return {"executor_launch": (registered - launched).total_seconds(), "jar_fetch": (added - fetch).total_seconds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=3, help="applications per run (the graph's Spark assets: 3)")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    postgres = devstores.ensure_postgres()
    with tempfile.TemporaryDirectory(prefix="spin-reel-spark-apps-") as work, \
            standalone_cluster(Path(work, "cluster"), worker_memory="1g", worker_cores=2) as cluster:
        env = {**os.environ, "SPARK_MASTER": cluster.master_url, "SPIN_REEL_SPARK_EXECUTOR_MEMORY": "512m",
               "SPIN_REEL_SPARK_DRIVER_MEMORY": "1g", "SPIN_REEL_SPARK_CHECKPOINT_DIR": str(Path(work, "checkpoints")),
               "PYTHONPATH": str(REPO)}
        runs = []
        for index in range(args.apps):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", ONE_APP, postgres, work, "2" if index == 0 else "0"],
                                 env=env, capture_output=True, text=True, check=True, cwd=REPO)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["process"] = time.perf_counter() - started
            run.update(executor_phases(cluster, run["app_id"], Path(work, "cluster", "daemons.log")))
            runs.append(run)
        shared = statistics.median(runs[0]["task_in_running_app"])
        per_app = statistics.median(run["process"] for run in runs)
        print(f"{args.apps} applications on {cluster.master_url} (one worker, 2 cores, 512m executors)")
        print("app                        process s  session s  first task s  executor launch s  jar fetch s")
        for run in runs:
            print(f"{run['app_id']:26} {run['process']:9.1f}  {run['session']:9.1f}  {run['first_task']:12.1f}  "
                  f"{run['executor_launch']:17.0f}  {run['jar_fetch']:11.0f}")
        print(f"median per application (process start to first JDBC task done): {per_app:.1f} s")
        print(f"the same JDBC task in a running application: {shared:.2f} s")
        print(f"one application per asset costs {args.apps - 1} x {per_app - shared:.1f} s = "
              f"{(args.apps - 1) * (per_app - shared):.1f} s more per run than one shared application "
              f"(ratio per Spark asset start: {per_app / max(shared, 1e-9):.0f}x a task)")


if __name__ == "__main__":
    main()
