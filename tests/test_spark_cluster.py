"""The cluster path: als_model on a real Spark standalone cluster (master + worker from the installed pyspark),
against the real test PostgreSQL, equal to the local[*] run; and the one-line errors for what a cluster lacks.

Each Spark run is a subprocess of its own (a fresh driver JVM): a SparkContext's master is fixed for its process,
and the rest of the suite keeps its local session.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from spin_reel_assets.devtools.devstores import free_port
from spin_reel_assets.recommender.spark_als import AlsArtifact
from spin_reel_assets.resources import SparkSetupError, spark_config_from_env, start_spark_session

from .conftest import REPO, resources_for

pytestmark = pytest.mark.spark

# Small but real: 6 iterations pass the checkpoint interval (5), so the checkpoint folder is used on the cluster.
ALS_CONFIG = {"rank": 8, "max_iter": 6, "num_blocks": 4, "jdbc_partitions": 4, "seed": 42}
NOT_A_JAR = "/nonexistent/postgresql.jar"


def run_als_model(postgres_url: str, artifacts: str, out: str) -> None:
    """Subprocess body: materialize als_model as the code location would, then, on a cluster, try a JDBC read
    with a driver jar the executors lack. Writes what the test checks to ``out`` (JSON)."""
    import dagster as dg
    from pyspark.sql import SparkSession

    from spin_reel_assets.definitions import defs
    from spin_reel_assets.recommender.spark_als import JdbcSetupError, read_ratings_jdbc
    from spin_reel_assets.resources import PostgresResource

    seen = {}

    @dg.asset
    def reads_als_model(als_model: AlsArtifact) -> None:
        """A second Spark step of the same run: loads the model through the Spark model IO manager."""
        seen["app_id"] = als_model.model.userFactors.sparkSession.sparkContext.applicationId
        seen["users"] = als_model.model.userFactors.count()

    resources = resources_for(postgres_url, "mongodb://127.0.0.1:1", "unused", Path(artifacts))
    result = dg.materialize([*defs().assets, reads_als_model], resources=resources,
                            selection=dg.AssetSelection.assets("als_model", "reads_als_model"),
                            run_config={"ops": {"als_model": {"config": ALS_CONFIG}}})
    spark = SparkSession.builder.getOrCreate()  # the run's session, still open: PySparkResource never stops it
    report = {"success": result.success, "app_id": spark.sparkContext.applicationId,
              "master": spark.sparkContext.master, "reader_app_id": seen.get("app_id"), "users": seen.get("users")}
    url, properties = PostgresResource(url=postgres_url).jdbc()
    try:  # a database port nothing listens on
        read_ratings_jdbc(spark, re.sub(r":\d+/", f":{free_port()}/", url, count=1), properties, "ratings", (1, 10))
    except JdbcSetupError as error:
        report["unreachable_db_error"] = str(error)
    spark.stop()
    if not report["master"].startswith("local"):
        # The driver keeps the jar on its classpath (the JVM is up); the executors get none, then one that is absent.
        for case, jars, wait in (("no_jar", {"spark.jars": ""}, 300), ("absent_local_jar", {"spark.jars": f"local:{NOT_A_JAR}"}, 10)):
            spark = start_spark_session({**spark_config_from_env(), **jars}, artifacts)
            report[f"{case}_app_id"] = spark.sparkContext.applicationId
            try:
                read_ratings_jdbc(spark, url, properties, "ratings", (1, 10), executor_wait=wait)
            except JdbcSetupError as error:
                report[f"{case}_error"] = str(error)
            spark.stop()
    Path(out).write_text(json.dumps(report))


class SparkRun:
    """``run_als_model`` in a subprocess with ``env`` added to ours; ``result()`` waits for it."""

    def __init__(self, tmp_path: Path, name: str, postgres_url: str, env: dict):
        self.artifacts, self.out = tmp_path / name, tmp_path / f"{name}.json"
        code = (f"from tests.test_spark_cluster import run_als_model; "
                f"run_als_model({postgres_url!r}, {str(self.artifacts)!r}, {str(self.out)!r})")
        self.log = tmp_path / f"{name}.log"
        self.started = time.perf_counter()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env},
                                            stdout=log, stderr=subprocess.STDOUT)

    def result(self) -> dict:
        try:
            self.process.wait(timeout=600)
        finally:
            self.stop()
        assert self.process.returncode == 0, self.log.read_text()[-4000:]
        return {**json.loads(self.out.read_text()), "seconds": time.perf_counter() - self.started}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def factors(artifacts: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, factor rows) of the saved Spark model, read from its Parquet without Spark, sorted by id."""
    table = pq.read_table(artifacts / "als_model" / "model" / kind).sort_by("id")
    return table.column("id").to_numpy(), np.stack(table.column("features").to_numpy(zero_copy_only=False))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from spin_reel_assets.devtools.spark_standalone import standalone_cluster

    with standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), worker_memory="1g", worker_cores=2) as running:
        yield running


@pytest.fixture(scope="module")
def ratings_db(postgres_url, tmp_path_factory):
    """The bundled sample's clean ratings in a fresh PostgreSQL database, through clean_ratings and ratings_table
    (the PostgresTableIOManager)."""
    import dagster as dg

    from spin_reel_assets.definitions import defs

    resources = resources_for(postgres_url, "mongodb://127.0.0.1:1", "unused", tmp_path_factory.mktemp("ingest"))
    result = dg.materialize(defs().assets, resources=resources,
                            selection=dg.AssetSelection.assets("clean_ratings", "ratings_table"))
    assert result.success
    return postgres_url


def test_als_model_runs_on_a_standalone_cluster_and_equals_the_local_run(cluster, ratings_db, tmp_path):
    driver_port, block_manager_port = free_port(), free_port()
    base = {"SPARK_LOCAL_IP": "127.0.0.1"}
    # Both runs at once: on 2 cores the cluster run mostly waits for JVMs and executors to come up.
    local_run = SparkRun(tmp_path, "local", ratings_db, {**base, "SPARK_MASTER": "local[*]"})
    cluster_run = SparkRun(tmp_path, "cluster", ratings_db, {
        **base,
        "SPARK_MASTER": cluster.master_url,
        "SPIN_REEL_SPARK_CHECKPOINT_DIR": str(tmp_path / "shared-checkpoints"),
        "SPIN_REEL_SPARK_EXECUTOR_MEMORY": "512m",
        "SPIN_REEL_SPARK_EXECUTOR_CORES": "2",
        "SPIN_REEL_SPARK_DRIVER_PORT": str(driver_port),
        "SPIN_REEL_SPARK_BLOCK_MANAGER_PORT": str(block_manager_port),
    })
    try:
        local, on_cluster = local_run.result(), cluster_run.result()
    finally:
        local_run.stop(), cluster_run.stop()
    local_artifacts, cluster_artifacts = local_run.artifacts, cluster_run.artifacts
    print(f"\nwall time of the runs (concurrent subprocesses, JVM start included): local[*] {local['seconds']:.1f}s, "
          f"cluster {on_cluster['seconds']:.1f}s")
    assert local["success"] and local["master"] == "local[*]"
    assert on_cluster["success"] and on_cluster["master"] == cluster.master_url

    for run in (local, on_cluster):
        error = run["unreachable_db_error"]
        assert "\n" not in error and error.startswith("Spark cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:")

    # Both Spark steps of the run (in one process) shared one application.
    assert on_cluster["reader_app_id"] == on_cluster["app_id"] and on_cluster["users"] > 0

    # The master ran it to the end, and its executor ran on our worker, reaching the driver on the configured port
    # of the derived address (not "localhost").
    app = cluster.finished_app(on_cluster["app_id"])
    assert app.get("state") == "FINISHED" and app["memoryperexecutor"] == 512, app
    executors = [e for e in cluster.worker_state()["finishedexecutors"] if e["appid"] == on_cluster["app_id"]]
    assert executors, cluster.worker_state()
    assert f"spark://CoarseGrainedScheduler@127.0.0.1:{driver_port}" in executors[0]["appdesc"]["command"]
    executor_log = (cluster.work_dir / on_cluster["app_id"] / str(executors[0]["id"]) / "stderr").read_text()
    assert "/jars/postgresql.jar" in executor_log  # the JDBC jar was shipped to the executor
    assert f"-Dspark.blockManager.port={block_manager_port}" in executors[0]["appdesc"]["command"]
    assert any((tmp_path / "shared-checkpoints").iterdir())  # checkpoints went to their own folder

    # Same seed, same JDBC partitions and ALS blocks: the same factors on both masters.
    for kind in ("userFactors", "itemFactors"):
        local_ids, local_rows = factors(local_artifacts, kind)
        cluster_ids, cluster_rows = factors(cluster_artifacts, kind)
        np.testing.assert_array_equal(cluster_ids, local_ids)
        assert local_rows.shape == (len(local_ids), ALS_CONFIG["rank"]) and np.abs(local_rows).sum() > 0
        np.testing.assert_allclose(cluster_rows, local_rows, rtol=0, atol=1e-5)

    # No JDBC jar on the executors: one line naming the driver class, not the JVM's trace; the same when the jar is a
    # local: path the executors lack (each exits at start, so the probe gives up after its wait).
    for case, expected in (("no_jar", "org.postgresql.Driver"), ("absent_local_jar", "no Spark executor ran a task")):
        error = on_cluster.get(f"{case}_error", "")
        assert "\n" not in error and expected in error, (case, error)
        assert cluster.finished_app(on_cluster[f"{case}_app_id"]).get("state") == "FINISHED"
    # three applications in all: the run's (both its Spark steps) and one per jar case
    assert sorted(a["id"] for a in cluster.master_state()["completedapps"]) == sorted(
        [on_cluster["app_id"], on_cluster["no_jar_app_id"], on_cluster["absent_local_jar_app_id"]])


def test_an_unreachable_master_is_one_line_before_any_jvm_starts(tmp_path):
    port = free_port()  # nothing listens there
    config = {**spark_config_from_env({"SPARK_MASTER": f"spark://127.0.0.1:{port}",
                                       "SPIN_REEL_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")})}
    started = time.perf_counter()
    with pytest.raises(SparkSetupError) as raised:
        start_spark_session(config, connect_timeout=3)
    assert time.perf_counter() - started < 3
    message = str(raised.value)
    assert "\n" not in message
    assert f"spark://127.0.0.1:{port} is unreachable" in message and "SPARK_MASTER" in message


def test_a_missing_jdbc_jar_is_one_line_naming_the_path(tmp_path):
    config = spark_config_from_env({"SPIN_REEL_JDBC_JAR": NOT_A_JAR})
    with pytest.raises(SparkSetupError) as raised:
        start_spark_session(config, str(tmp_path))
    message = str(raised.value)
    assert "\n" not in message and NOT_A_JAR in message and "SPIN_REEL_JDBC_JAR" in message


def test_a_cluster_needs_its_own_checkpoint_folder(tmp_path):
    config = spark_config_from_env({"SPARK_MASTER": "spark://127.0.0.1:7077"})
    with pytest.raises(SparkSetupError, match="^SPIN_REEL_SPARK_CHECKPOINT_DIR is not set"):
        start_spark_session(config, str(tmp_path))
    relative = spark_config_from_env({"SPARK_MASTER": "spark://127.0.0.1:7077", "SPIN_REEL_SPARK_CHECKPOINT_DIR": "ckpt"})
    with pytest.raises(SparkSetupError, match="is relative"):
        start_spark_session(relative, str(tmp_path))
    # local masters keep the default under the artifacts folder
    local = spark_config_from_env({})
    from spin_reel_assets.resources import checkpoint_location

    assert checkpoint_location(local, str(tmp_path)) == str(tmp_path / "spark-checkpoints")
    assert (tmp_path / "spark-checkpoints").is_dir()


def test_the_driver_network_settings_apply_to_clusters_only():
    env = {"SPIN_REEL_SPARK_DRIVER_HOST": "driver.internal", "SPIN_REEL_SPARK_DRIVER_BIND_ADDRESS": "0.0.0.0",
           "SPIN_REEL_SPARK_DRIVER_PORT": "7078", "SPIN_REEL_SPARK_BLOCK_MANAGER_PORT": "7079"}
    on_cluster = spark_config_from_env({**env, "SPARK_MASTER": "spark://master.internal:7077"})
    assert (on_cluster["spark.driver.host"], on_cluster["spark.driver.bindAddress"], on_cluster["spark.driver.port"],
            on_cluster["spark.blockManager.port"]) == ("driver.internal", "0.0.0.0", "7078", "7079")
    local = spark_config_from_env(env)
    assert not {"spark.driver.host", "spark.driver.port"} & set(local)
    assert (local["spark.executor.memory"], local["spark.executor.cores"]) == ("4g", "2")


def test_the_readiness_probe_waits_through_a_ui_that_answers_html_before_json(tmp_path):
    """Seen once in a full test run: the starting master answered /json/ with an HTML page; the probe retries."""
    import http.server
    import threading

    from spin_reel_assets.devtools.spark_standalone import _wait, read_json

    answers = iter([b"<!DOCTYPE html><html></html>", b'{"status": "ALIVE"}'])

    class Ui(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = next(answers, b'{"status": "ALIVE"}')
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ui)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/json/"
        _wait(lambda: read_json(url, 1).get("status") == "ALIVE", [], 10, "Spark master", tmp_path / "log")
    finally:
        server.shutdown()
    assert next(answers, None) is None  # the HTML answer was read, and the probe went on to the JSON one
