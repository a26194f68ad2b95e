"""A Spark standalone cluster (one master, one worker) from the installed pyspark, for the tests and benchmarks.

Both daemons run in the foreground under ``bin/spark-class`` (which ``exec``s the JVM, so the PID we hold is the
daemon's) bound to 127.0.0.1 on free ports, and are stopped by that PID.

    with standalone_cluster(work_dir) as cluster:
        os.environ["SPARK_MASTER"] = cluster.master_url
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from spin_reel_assets.devtools.devstores import free_port
from spin_reel_assets.devtools.processes import stop_process

HOST = "127.0.0.1"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class Cluster:
    master_url: str  # spark://127.0.0.1:<port>
    master_ui: str  # http://127.0.0.1:<port>: the master's JSON API is <master_ui>/json/
    worker_ui: str
    work_dir: Path  # the worker's application folders (executor logs, fetched jars)
    pids: tuple[int, int]

    def master_state(self) -> dict:
        return read_json(f"{self.master_ui}/json/")

    def worker_state(self) -> dict:
        return read_json(f"{self.worker_ui}/json/")

    def finished_app(self, app_id: str, seconds: float = 20) -> dict:
        """The master's record of ``app_id`` once it is among the completed applications."""
        deadline = time.monotonic() + seconds
        while True:
            apps = {app["id"]: app for app in self.master_state().get("completedapps", [])}
            if app_id in apps or time.monotonic() > deadline:
                return apps.get(app_id, {})
            time.sleep(0.2)


def read_json(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def _daemon(cls: str, args: list[str], log: Path, env: dict) -> subprocess.Popen:
    command = [str(spark_home() / "bin" / "spark-class"), cls, *args]
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait(ready, processes, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}: see {log}")
        try:
            if ready():
                return
        except (OSError, json.JSONDecodeError):  # not listening yet, or its UI up before the JSON page (HTML)
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} was not ready within {seconds:.0f}s: see {log}")


@contextmanager
def standalone_cluster(work_dir: Path, worker_memory: str = "1g", worker_cores: int = 2,
                       daemon_memory: str = "256m") -> Iterator[Cluster]:
    """Start a master and one worker (``worker_memory`` for its executors), yield them, stop both by PID."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_DAEMON_MEMORY": daemon_memory,
        "SPARK_LOG_DIR": str(work_dir),
        # The executors' Python workers (if any) use this interpreter, like the driver's.
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }
    port, ui, worker_ui = free_port(), free_port(), free_port()
    master_url, master_ui = f"spark://{HOST}:{port}", f"http://{HOST}:{ui}"
    log = work_dir / "daemons.log"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_daemon("org.apache.spark.deploy.master.Master",
                                 ["--host", HOST, "--port", str(port), "--webui-port", str(ui)], log, env))
        _wait(lambda: read_json(f"{master_ui}/json/", 1).get("status") == "ALIVE", processes, 60, "Spark master", log)
        processes.append(_daemon("org.apache.spark.deploy.worker.Worker",
                                 ["--host", HOST, "--webui-port", str(worker_ui), "--memory", worker_memory,
                                  "--cores", str(worker_cores), "--work-dir", str(work_dir / "work"), master_url],
                                 log, env))
        _wait(lambda: read_json(f"{master_ui}/json/", 1).get("aliveworkers", 0) >= 1, processes, 60, "Spark worker", log)
        yield Cluster(master_url, master_ui, f"http://{HOST}:{worker_ui}", work_dir / "work",
                      tuple(p.pid for p in processes))
    finally:
        for process in reversed(processes):
            stop_process(process)
