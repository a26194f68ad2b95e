"""The in-memory artifacts: lookups, the content share, reloading when the files change, and the app's imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spin_reel_assets.schema import USER_RECOMMENDATIONS_PATH
from spin_reel_web import create_app
from spin_reel_web.artifacts import ArtifactStore, RankedLists, content_share


def test_ranked_lists_slices_by_key_in_rank_order():
    lists = RankedLists(
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
    shutil.copytree(served_stack.artifacts_dir, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _drop_user(path, user_id: int) -> None:
    table = pq.read_table(path)
    pq.write_table(table.filter(pc.not_equal(table.column("user_id"), user_id)), path)


def _bump_mtime(path) -> None:
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_artifacts_reload_when_a_file_changes(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    assert first is not None and 1 in first.user_recommendations
    assert store.current() is first  # unchanged files: the same snapshot
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    _drop_user(path, 1)
    _bump_mtime(path)
    second = store.current()
    assert second is not first and 1 not in second.user_recommendations and 2 in second.user_recommendations


def test_files_are_checked_at_most_once_per_interval(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=60)
    first = store.current()
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    _drop_user(path, 1)
    _bump_mtime(path)
    assert store.current() is first


def test_a_broken_file_keeps_the_previous_artifacts(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    path.write_bytes(b"half-written")
    assert store.current() is first
    shutil.copy(path.with_name("similar_movies.parquet"), path)  # readable but the wrong columns
    assert store.current() is first


def test_app_serves_the_new_artifacts(served_stack, artifacts_copy):
    client = create_app(served_stack.app_config(ARTIFACTS_DIR=str(artifacts_copy), ARTIFACT_CHECK_SECONDS=0)).test_client()
    assert client.get("/api/users/1/recommendations").status_code == 200
    path = artifacts_copy / USER_RECOMMENDATIONS_PATH
    _drop_user(path, 1)
    _bump_mtime(path)
    assert client.get("/api/users/1/recommendations").status_code == 404


def test_missing_artifacts_appear_later(served_stack, tmp_path):
    store = ArtifactStore(tmp_path, check_seconds=0)
    assert store.current() is None
    shutil.copytree(served_stack.artifacts_dir, tmp_path, dirs_exist_ok=True)
    assert store.current() is not None


def test_app_creation_connects_to_nothing_and_imports_no_dagster():
    code = (
        "import sys, time; started = time.perf_counter();"
        "from spin_reel_web import create_app;"
        "app = create_app({'MONGO_URI': 'mongodb://127.0.0.1:9', 'POSTGRES_URL': 'postgresql://x@127.0.0.1:9/x',"
        " 'ARTIFACTS_DIR': '/nonexistent'});"
        "assert not {'dagster', 'pyspark'} & {name.split('.')[0] for name in sys.modules}, 'dagster or pyspark imported';"
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
