"""Data versions and partial rebuilds, read through Dagster's public event-log API on a real instance on disk.

Each test changes an input (or a code_version), checks exactly which assets Dagster reports unsynced, and puts
the input back: the ``materialized`` stores are shared with other test modules.
"""

import gzip
import os
import subprocess
import sys
from contextlib import contextmanager

import dagster as dg
import pytest

from spin_reel_assets.definitions import defs
from spin_reel_assets.devtools.staleness import STALE, observe_sources, rebuild, statuses, unsynced

pytestmark = [pytest.mark.stores, pytest.mark.spark]
ASSETS = list(defs().assets)
# The assets whose step fits Spark ALS (kind "spark"): what a rebuild must not redo unless a rating changed.
SPARK_FITS = {spec.key.to_user_string() for asset in ASSETS for spec in asset.specs if "spark" in spec.kinds}

EVERYTHING = {"clean_ratings", "clean_movies", "ratings_table", "movies_table", "movies_collection", "als_model",
              "als_validation_model", "faiss_index", "blend_weights", "hybrid_recommendations", "serving_form", "recommendation_quality"}
SERVING = {"blend_weights", "hybrid_recommendations", "serving_form", "recommendation_quality"}
TMDB_SIDE = {"clean_movies", "movies_table", "movies_collection", "faiss_index"} | SERVING
RATINGS_SIDE = {"clean_ratings", "ratings_table", "als_model", "als_validation_model"} | SERVING


def affected(pipeline, assets=None, stale=None) -> set[str]:
    """Observe the inputs; the assets a rebuild must redo. ``stale``: the ones Dagster itself must call STALE."""
    assets = ASSETS if assets is None else assets
    observe_sources(pipeline.instance, assets, pipeline.resources)
    status = statuses(pipeline.instance, assets)
    assert set(status) == EVERYTHING
    if stale is not None:
        assert {key for key, value in status.items() if value == STALE} == stale
    return set(unsynced(pipeline.instance, assets))


@contextmanager
def changed(path, transform):
    """``path`` rewritten as gzip of transform(its text), restored (same bytes) afterwards."""
    original = path.read_bytes()
    path.write_bytes(gzip.compress(transform(gzip.decompress(original).decode("utf-8")).encode("utf-8")))
    try:
        yield
    finally:
        path.write_bytes(original)


def drop_last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[0] + "\n"


def test_everything_is_in_sync_after_the_full_materialization(materialized):
    assert affected(materialized) == set()


def test_the_spark_fits_are_the_two_als_models():
    assert SPARK_FITS == {"als_model", "als_validation_model"}


def test_a_changed_tmdb_file_stales_exactly_the_movie_side_and_no_spark_fit(materialized):
    with changed(materialized.data_dir / "TMDB_movie_dataset_v11.csv.gz", drop_last_line):
        todo = affected(materialized, stale={"clean_movies"})
        assert todo == TMDB_SIDE and not todo & SPARK_FITS
    assert affected(materialized) == set()


def test_a_changed_ratings_file_refits_exactly_the_two_als_models_but_not_the_content_index(materialized):
    with changed(materialized.data_dir / "ratings.csv.gz", drop_last_line):
        todo = affected(materialized, stale={"clean_ratings"})
        assert todo == RATINGS_SIDE and todo & SPARK_FITS == {"als_model", "als_validation_model"}
    assert affected(materialized, stale=set()) == set()


def test_rewriting_an_input_with_identical_content_stales_nothing(materialized):
    for path in materialized.data_dir.glob("*.csv.gz"):
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
    assert affected(materialized) == set()


def bumped(name: str):
    """The code location's assets with ``name``'s code_version bumped."""
    return [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(code_version="bumped"))
        if [key.to_user_string() for key in asset.keys] == [name] else asset
        for asset in ASSETS
    ]


@pytest.mark.parametrize("name, expected", [
    ("faiss_index", {"faiss_index"} | SERVING),
    ("clean_ratings", RATINGS_SIDE),
    ("movies_table", {"movies_table"}),
])
def test_a_code_version_bump_stales_that_asset_and_its_descendants(materialized, name, expected):
    assert affected(materialized, bumped(name), stale={name}) == expected


def test_rebuild_materializes_only_what_is_affected(materialized):
    assets = bumped("movies_table")
    assert rebuild(materialized.instance, assets, materialized.resources) == ["movies_table"]
    assert affected(materialized, assets) == set()
    assert rebuild(materialized.instance, assets, materialized.resources) == []
    # and back to the code location's own version
    assert rebuild(materialized.instance, ASSETS, materialized.resources) == ["movies_table"]


def run_rebuild_command(pipeline) -> str:
    env = {
        **os.environ,
        "DAGSTER_HOME": pipeline.instance.root_directory,
        "SPIN_REEL_POSTGRES_URL": pipeline.postgres_url,
        "SPIN_REEL_MONGO_URI": pipeline.mongo_uri,
        "SPIN_REEL_MONGO_DB": pipeline.mongo_db,
        "SPIN_REEL_DATA_DIR": str(pipeline.data_dir),
        "SPIN_REEL_ARTIFACTS_DIR": str(pipeline.artifacts),
        "SPIN_REEL_SPARK_DRIVER_MEMORY": "2g",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run([sys.executable, "-m", "spin_reel_assets.devtools.cli", "rebuild"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def step_processes(instance) -> set[int]:
    """The process ids the latest run's steps started in."""
    run = instance.get_runs(limit=1)[0]
    starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
    return {record.event_log_entry.dagster_event.pid for record in starts}


def test_the_rebuild_command_rebuilds_the_movie_side_after_a_tmdb_change(materialized):
    """`spin-reel rebuild` (what `make rebuild` runs) on the session's instance, in a separate process."""
    assert "nothing to rebuild" in run_rebuild_command(materialized)
    with changed(materialized.data_dir / "TMDB_movie_dataset_v11.csv.gz", drop_last_line):
        output = run_rebuild_command(materialized)
        assert set(output.split("rebuilt:")[1].split()) == TMDB_SIDE
        # as `dagster asset materialize` runs them: every step in a process of its own
        assert len(step_processes(materialized.instance)) == len(TMDB_SIDE)
        assert affected(materialized) == set()
    # back to the original file: the movie side is rebuilt once more, and the stores hold the sample again
    assert set(run_rebuild_command(materialized).split("rebuilt:")[1].split()) == TMDB_SIDE
    assert affected(materialized) == set()
