"""`dg dev` (what `make demo` runs) end to end: the UI serves the asset graph over GraphQL, then stops on SIGTERM.

The stores point at addresses where nothing listens: loading the code location must not connect to anything.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")
START_TIMEOUT = 120
STOP_TIMEOUT = 30

# Dependencies the UI must show (a subset: the full graph is compared with the code location's own below).
REQUIRED_DEPENDENCIES = {
    "ratings_table": {"clean_ratings"},
    "movies_table": {"clean_movies"},
    "movies_collection": {"clean_movies"},
    "clean_ratings": {"ratings_file"},
    "clean_movies": {"movies_file", "tmdb_file"},
    "als_model": {"ratings_table"},
    "faiss_index": {"clean_movies"},
    "als_validation_model": {"ratings_table"},
    "blend_weights": {"als_validation_model", "faiss_index", "ratings_table"},
    "hybrid_recommendations": {"als_model", "faiss_index", "ratings_table", "blend_weights", "movies_collection"},
    "serving_form": {"hybrid_recommendations"},
    "recommendation_quality": {"als_validation_model", "faiss_index", "ratings_table", "blend_weights"},
}
SOURCE_ASSETS = {"ratings_file", "movies_file", "links_file", "tmdb_file"}

ASSET_GRAPH_QUERY = """
query AssetGraph {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    isObservable
    isMaterializable
  }
}
"""

STALENESS_QUERY = """
query Staleness($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    staleStatus
    staleCauses { key { path } category reason }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_group_members(pgid: int) -> list[int]:
    """Processes of the group that are still running (zombies awaiting a reaper do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    artifacts = tmp_path_factory.mktemp("artifacts")
    data = tmp_path_factory.mktemp("data")  # empty: only observing or materializing would look into it
    log_path = tmp_path_factory.mktemp("log") / "dagster-dev.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SPIN_REEL_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        SPIN_REEL_POSTGRES_URL=f"postgresql://nobody:throwaway@127.0.0.1:{free_port()}/nowhere",
        SPIN_REEL_MONGO_URI=f"mongodb://127.0.0.1:{free_port()}",
        SPIN_REEL_MONGO_DB="throwaway",
        SPIN_REEL_DATA_DIR=str(data),
        SPIN_REEL_ARTIFACTS_DIR=str(artifacts),
        SPARK_LOCAL_IP="127.0.0.1",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env_binary = shutil.which("env") or "/usr/bin/env"
    # A backgrounded `dg dev` ignores SIGTERM unless SIGINT has its default disposition: restore it.
    command = [env_binary, "--default-signal=INT", str(DG), "dev", "-h", "127.0.0.1", "-p", str(port)]
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parents[1])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    pgid = process.pid  # its own session and process group
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"dg dev exited {process.returncode}:\n{log_path.read_text()[-4000:]}"
            try:
                up = requests.get(f"{base}/server_info", timeout=2).ok
            except requests.RequestException:
                up = False
            if up and _location_loaded(base):
                break
            assert time.monotonic() < deadline, f"no UI after {START_TIMEOUT}s:\n{log_path.read_text()[-4000:]}"
            time.sleep(1)
        yield DagsterDev(process, pgid, base, log_path)
    finally:
        if process.poll() is None or live_group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


def _location_loaded(base: str) -> bool:
    """True once the code location has loaded (the UI answers before it has); fails on a load error."""
    query = """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""
    try:
        response = requests.post(f"{base}/graphql", json={"query": query}, timeout=10)
        entries = response.json()["data"]["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    for entry in entries:
        if entry["name"] == "spin_reel" and entry["loadStatus"] == "LOADED":
            error = entry["locationOrLoadError"] or {}
            assert error.get("__typename") != "PythonError", f"code location failed to load: {error}"
            return True
    return False


class DagsterDev:
    def __init__(self, process, pgid, base, log_path):
        self.process, self.pgid, self.base, self.log_path = process, pgid, base, log_path


def code_location_graph() -> dict[str, tuple[set[str], str]]:
    """asset -> (upstream assets, group) as the code location defines them."""
    from spin_reel_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    return {
        key.to_user_string(): ({parent.to_user_string() for parent in graph.get(key).parent_keys}, graph.get(key).group_name)
        for key in graph.get_all_asset_keys()
    }


def test_asset_graph_over_graphql(dagster_dev):
    nodes = graphql(dagster_dev.base, ASSET_GRAPH_QUERY)["assetNodes"]
    shown = {
        "/".join(node["assetKey"]["path"]): ({"/".join(dep["path"]) for dep in node["dependencyKeys"]}, node["groupName"])
        for node in nodes
    }
    assert set(REQUIRED_DEPENDENCIES) | SOURCE_ASSETS <= set(shown), sorted(shown)
    for key, upstream in REQUIRED_DEPENDENCIES.items():
        assert upstream <= shown[key][0], f"{key} depends on {sorted(shown[key][0])}"
    for key in SOURCE_ASSETS:
        assert shown[key][0] == set(), key
    assert shown == code_location_graph()

    flags = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    for key in SOURCE_ASSETS:
        assert flags[key]["isObservable"] and not flags[key]["isMaterializable"], key
    for key in REQUIRED_DEPENDENCIES:
        assert flags[key]["isMaterializable"], key


def test_the_server_start_prints_no_supersession_warning(dagster_dev):
    """`make demo` serves through `dg dev`: none of the `dagster dev … use 'dg dev' instead` warnings."""
    log = dagster_dev.log_path.read_text()
    assert "Loaded" in log or "Serving dagster-webserver" in log, log[-3000:]
    assert "SupersessionWarning" not in log and "Use 'dg dev'" not in log, log[-3000:]


def test_never_materialized_asset_is_missing(dagster_dev):
    data = graphql(dagster_dev.base, STALENESS_QUERY, {"keys": [{"path": ["clean_ratings"]}]})
    [node] = data["assetNodes"]
    assert node["assetKey"]["path"] == ["clean_ratings"]
    assert node["staleStatus"] == "MISSING"
    assert isinstance(node["staleCauses"], list)  # causes are reported for STALE only; MISSING has none to give


def test_sigterm_stops_every_process(dagster_dev):
    """Runs last in this module: SIGTERM to dg dev takes the webserver, daemon and code server down."""
    members = live_group_members(dagster_dev.pgid)
    assert len(members) > 1, "dg dev should have started its webserver, daemon and code server"
    dagster_dev.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if dagster_dev.process.poll() is not None and not live_group_members(dagster_dev.pgid):
            break
        time.sleep(0.5)
    log = dagster_dev.log_path.read_text()[-4000:]
    assert dagster_dev.process.poll() is not None, f"dg dev still running {STOP_TIMEOUT}s after SIGTERM:\n{log}"
    assert not live_group_members(dagster_dev.pgid), f"children left: {live_group_members(dagster_dev.pgid)}\n{log}"
