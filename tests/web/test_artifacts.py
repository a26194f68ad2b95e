"""The served artifacts: lookups, the content share, reloading when the files change, and the app's imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import time

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spin_reel_assets.schema import HYBRID_MANIFEST_PATH, USER_RECOMMENDATIONS_PATH
from spin_reel_web import create_app
from spin_reel_web.artifacts import ArtifactStore, RankedLists, content_share


def test_ranked_lists_slices_by_key_in_rank_order():
    lists = RankedLists.from_rows(
        np.array([7, 3, 7, 3, 7]),
        {"rank": np.array([2, 1, 1, 2, 3]), "tmdb_id": np.array([20, 30, 10, 40, -1]), "score": np.array([0.5, 0.9, np.nan, 0.1, 0.2])},
    )
    assert lists.get(7, 2) == [{"rank": 1, "tmdb_id": 10, "score": None}, {"rank": 2, "tmdb_id": 20, "score": 0.5}]
    assert lists.get(7, 10)[-1] == {"rank": 3, "tmdb_id": None, "score": 0.2}  # -1 stands for a null id
    assert [row["tmdb_id"] for row in lists.get(3, 10)] == [30, 40]
    assert lists.get(5, 10) is None and 3 in lists and len(lists) == 2
    assert lists.nearest_keys(6, 1) == [7] and lists.nearest_keys(100, 5) == [7, 3]


def test_content_share_weighs_both_cosines():
    share = content_share(np.array([0.8, 0.5, -0.2, 0.0]), np.array([0.2, np.nan, 0.6, 0.0]), weight=0.5)
    assert share[:3].tolist() == [0.8, 1.0, 0.0] and np.isnan(share[3])
    assert content_share(np.array([0.5]), np.array([0.5]), weight=0.75).tolist() == [0.25]


@pytest.fixture
def artifacts_copy(served_stack, tmp_path):
    shutil.copytree(served_stack.artifacts_dir, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".serving"))
    return tmp_path


def _drop_user(path, user_id: int) -> None:
    table = pq.read_table(path)
    pq.write_table(table.filter(pc.not_equal(table.column("user_id"), user_id)), path)


def publish(directory) -> None:
    """What a materialization does last: rewrite the manifest (after the Parquet files), with a later mtime."""
    manifest = directory / HYBRID_MANIFEST_PATH
    manifest.write_text(manifest.read_text())
    stat = os.stat(manifest)
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def eventually(store: ArtifactStore, accept, seconds: float = 60):
    """The store's snapshot once ``accept`` holds for it (a new version is built in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        snapshot = store.current()
        if accept(snapshot):
            return snapshot
        time.sleep(0.05)
    raise AssertionError("the store did not switch in time")


def test_artifacts_reload_when_a_new_materialization_is_published(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    assert first is not None and 1 in first.user_recommendations
    assert store.current() is first  # unchanged files: the same snapshot
    _drop_user(artifacts_copy / USER_RECOMMENDATIONS_PATH, 1)
    publish(artifacts_copy)
    second = eventually(store, lambda snapshot: snapshot is not first)
    assert 1 not in second.user_recommendations and 2 in second.user_recommendations


def test_files_are_checked_at_most_once_per_interval(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=60)
    first = store.current()
    _drop_user(artifacts_copy / USER_RECOMMENDATIONS_PATH, 1)
    publish(artifacts_copy)
    time.sleep(0.5)
    assert store.current() is first


def test_a_broken_file_keeps_the_previous_artifacts(artifacts_copy, caplog):
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    path.write_bytes(b"half-written")
    publish(artifacts_copy)
    eventually(store, lambda _: "not a readable Parquet file" in caplog.text)
    assert store.current() is first
    shutil.copy(path.with_name("similar_movies.parquet"), path)  # readable but the wrong columns
    publish(artifacts_copy)
    eventually(store, lambda _: "missing column(s) user_id" in caplog.text)
    assert store.current() is first


def test_files_newer_than_the_manifest_wait_for_it(artifacts_copy, caplog):
    """A materialization under way (Parquet files replaced, manifest not yet): the previous version stays."""
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    _drop_user(path, 1)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert store.current() is first and "newer than hybrid/manifest.json" in caplog.text
    assert not list((artifacts_copy / ".serving").glob("*/meta.json"))[1:]  # nothing built for it
    publish(artifacts_copy)
    os.utime(artifacts_copy / HYBRID_MANIFEST_PATH, ns=(stat.st_atime_ns, stat.st_mtime_ns + 6_000_000_000))
    assert 1 not in eventually(store, lambda snapshot: snapshot is not first).user_recommendations


def test_app_serves_the_new_artifacts(served_stack, artifacts_copy):
    app = create_app(served_stack.app_config(ARTIFACTS_DIR=str(artifacts_copy), ARTIFACT_CHECK_SECONDS=0))
    client = app.test_client()
    assert client.get("/api/users/1/recommendations").status_code == 200
    _drop_user(artifacts_copy / USER_RECOMMENDATIONS_PATH, 1)
    publish(artifacts_copy)
    first = app.extensions["spin_reel_artifacts"].current()
    eventually(app.extensions["spin_reel_artifacts"], lambda snapshot: snapshot is not first)
    assert client.get("/api/users/1/recommendations").status_code == 404


def test_missing_artifacts_appear_later(served_stack, tmp_path):
    store = ArtifactStore(tmp_path, check_seconds=0)
    assert store.current() is None
    shutil.copytree(served_stack.artifacts_dir, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".serving"))
    assert store.current() is not None


def test_app_creation_connects_to_nothing_and_imports_no_dagster_spark_or_faiss():
    code = (
        "import sys, time; started = time.perf_counter();"
        "from spin_reel_web import create_app;"
        "app = create_app({'MONGO_URI': 'mongodb://127.0.0.1:9', 'POSTGRES_URL': 'postgresql://x@127.0.0.1:9/x',"
        " 'ARTIFACTS_DIR': '/nonexistent'});"
        "assert not {'dagster', 'pyspark', 'faiss'} & {name.split('.')[0] for name in sys.modules}, 'heavy import';"
        "assert time.perf_counter() - started < 10"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "SPIN_REEL_SECRET_KEY": ""})


def test_random_secret_key_when_unset(monkeypatch, caplog):
    monkeypatch.delenv("SPIN_REEL_SECRET_KEY", raising=False)
    first, second = create_app(), create_app()
    assert len(first.secret_key) == 64 and first.secret_key != second.secret_key
    assert "SPIN_REEL_SECRET_KEY is not set" in caplog.text
    monkeypatch.setenv("SPIN_REEL_SECRET_KEY", "from-env")
    assert create_app().secret_key == "from-env" and not create_app().debug
