"""The memory-mapped serving form: the same answers as the published Parquet files and the pipeline's exact cold
start, one build shared by every process, and reloads that never mix versions nor keep two in memory."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spin_reel_assets.recommender.hybrid import recommend_from_liked, similar_items
from spin_reel_assets.schema import HYBRID_MANIFEST_PATH, ITEM_EMBEDDINGS_PATH, SIMILAR_MOVIES_PATH, USER_RECOMMENDATIONS_PATH
from spin_reel_web import create_app
from spin_reel_web.artifacts import ArtifactStore, content_share
from spin_reel_web import ivf
from spin_reel_web.cold_start import ItemVectors, similar_to
from spin_reel_web.cold_start import recommend_from_liked as candidate_recommend_from_liked
from spin_reel_web.ivf import InvertedIndex, NormOrdered
from tests.web.test_artifacts import eventually, publish


def _rounded(value):
    return None if value is None or value != value else round(float(value), 6)


def _matrix(column) -> np.ndarray:
    """A list<float> column as rows, NaN for null lists (as the pipeline's consumers read it)."""
    rows = column.to_pylist()
    width = len(next(row for row in rows if row is not None))
    return np.array([row if row is not None else [np.nan] * width for row in rows], dtype=np.float32)


@pytest.fixture(scope="module")
def published(served_stack):
    """The sample's published artifacts read straight from Parquet, as the reference."""
    directory = served_stack.artifacts_dir
    embeddings = pq.read_table(directory / ITEM_EMBEDDINGS_PATH)
    return {
        "users": pq.read_table(directory / USER_RECOMMENDATIONS_PATH).to_pandas(),
        "similar": pq.read_table(directory / SIMILAR_MOVIES_PATH).to_pandas(),
        "tmdb_ids": embeddings.column("tmdb_id").to_numpy(),
        "content": _matrix(embeddings.column("content")),
        "als": _matrix(embeddings.column("als")),
        "weight": json.loads((directory / HYBRID_MANIFEST_PATH).read_text())["weight"],
    }


def test_every_user_list_is_the_published_one(client, published):
    for user_id, rows in published["users"].groupby("user_id"):
        rows = rows.sort_values("rank")
        body = client.get(f"/api/users/{user_id}/recommendations?n=100").get_json()["recommendations"]
        assert [(r["rank"], r["tmdb_id"], r["because_tmdb_id"]) for r in body] == [
            (row.rank, row.tmdb_id, None if row.because_tmdb_id != row.because_tmdb_id else int(row.because_tmdb_id))
            for row in rows.itertuples()
        ]
        assert [(r["score"], r["content_score"], r["als_score"]) for r in body] == [
            (_rounded(row.score), _rounded(row.content_score), _rounded(row.als_score)) for row in rows.itertuples()
        ]


def test_every_similar_list_is_the_published_one(client, published):
    for tmdb_id, rows in published["similar"].groupby("tmdb_id"):
        rows = rows.sort_values("rank")
        body = client.get(f"/api/movies/{tmdb_id}/similar?n=100").get_json()["similar"]
        assert [(r["rank"], r["tmdb_id"], r["score"], r["content_score"], r["als_score"]) for r in body] == [
            (row.rank, row.similar_tmdb_id, _rounded(row.score), _rounded(row.content_score), _rounded(row.als_score))
            for row in rows.itertuples()
        ]
        shares = content_share(np.array([r["content_score"] for r in body]),
                               np.array([np.nan if r["als_score"] is None else r["als_score"] for r in body]),
                               published["weight"])
        assert [r["content_share"] for r in body] == [None if share != share else share for share in shares.tolist()]


def test_a_movie_without_a_published_list_gets_the_pipelines_list(client, published):
    """Movies nobody rated have no precomputed list: the app ranks theirs as the pipeline would (exact here)."""
    tmdb_ids, listed = published["tmdb_ids"], np.unique(published["similar"]["tmdb_id"])
    unlisted = np.flatnonzero(~np.isin(tmdb_ids, listed) & published["content"].any(axis=1))
    assert len(unlisted) >= 10 and np.isnan(published["als"][unlisted]).all()
    for row in unlisted:
        exact = similar_items(published["content"], published["als"], published["weight"], n=100, items=[row])
        body = client.get(f"/api/movies/{tmdb_ids[row]}/similar?n=100").get_json()["similar"]
        assert [(r["rank"], r["tmdb_id"]) for r in body] == list(zip(exact["rank"].tolist(),
                                                                     tmdb_ids[exact["similar"]].tolist()))
        for key in ("score", "content_score", "als_score"):  # float32 dot products: equal to the last bit or one off
            served = np.array([np.nan if r[key] is None else r[key] for r in body])
            np.testing.assert_allclose(served, exact[key].astype(np.float64), atol=2e-6)
        assert all(r["content_share"] in (1.0, None) for r in body)  # no ALS factors: all of it is content


def _item_vectors(content: np.ndarray, als: np.ndarray) -> ItemVectors:
    """The web app's item vectors (as the serving form holds them) of these rows."""
    def positions(items: np.ndarray) -> np.ndarray:
        position = np.full(len(content), -1, dtype=np.int64)
        position[items] = np.arange(len(items))
        return position

    cells, ordered = ivf.build(content), ivf.build_norm_ordered(als)
    return ItemVectors(
        InvertedIndex(cells["centroids"], cells["stops"], cells["items"], cells["vectors"], positions(cells["items"])),
        NormOrdered(ordered["items"], ordered["norms"], ordered["vectors"], positions(ordered["items"])))


def test_a_movie_without_text_gets_no_list_rather_than_an_arbitrary_one():
    content = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    content /= np.linalg.norm(content, axis=1, keepdims=True)
    content[3] = 0  # a movie whose TMDB record has no text
    items = _item_vectors(content, np.full((50, 4), np.nan, dtype=np.float32))
    assert similar_to(3, items, 0.5, n=10, candidates=20) is None
    found = similar_to(4, items, 0.5, n=10, candidates=20)
    assert len(found["item"]) == 10 and 4 not in found["item"]
    assert np.array_equal(found["item"], np.argsort(-(content @ content[4]), kind="stable")[1:11])


def test_cold_start_is_the_exact_computation(client, published):
    """The candidate search gives the pipeline's exact ranking (which scores every movie) on the sample."""
    tmdb_ids, rng = published["tmdb_ids"], np.random.default_rng(3)
    liked_sets = [rng.choice(len(tmdb_ids), size=rng.integers(1, 6), replace=False) for _ in range(40)]
    liked_sets.append(np.flatnonzero(np.isnan(published["als"]).any(axis=1))[:2])  # movies nobody rated: content only
    for liked in liked_sets:
        exact = recommend_from_liked(liked, published["content"], published["als"], published["weight"], n=20)
        response = client.post("/api/recommendations", json={"liked": tmdb_ids[liked].tolist(), "n": 20})
        body = response.get_json()["recommendations"]
        assert [(r["rank"], r["tmdb_id"], r["because_tmdb_id"]) for r in body] == list(
            zip(exact["rank"].tolist(), tmdb_ids[exact["item"]].tolist(), tmdb_ids[exact["because"]].tolist()))
        for key in ("score", "content_score", "als_score"):  # float32 dot products: equal to the last bit or one off
            served = np.array([np.nan if r[key] is None else r[key] for r in body])
            np.testing.assert_allclose(served, exact[key].astype(np.float64), atol=2e-6)


def test_a_small_probe_budget_still_finds_most_of_the_exact_ranking(served_stack, published):
    """Scanning a quarter of the catalogue for content candidates: the ranking changes only at the margin."""
    snapshot = ArtifactStore(served_stack.artifacts_dir).current()
    rng, recalls = np.random.default_rng(5), []
    budget = len(published["tmdb_ids"]) // 4
    for _ in range(40):
        liked = rng.choice(len(published["tmdb_ids"]), size=3, replace=False)
        exact = recommend_from_liked(liked, published["content"], published["als"], published["weight"], n=20)["item"]
        found = candidate_recommend_from_liked(liked, snapshot.items.vectors, snapshot.weight, 20, budget=budget,
                                               bounds_budget=budget, candidates=64)["item"]
        recalls.append(np.isin(exact, found).mean())
    assert np.mean(recalls) >= 0.9


def test_the_cold_start_imports_no_faiss(served_stack):
    code = (
        "import sys; from spin_reel_web import create_app;"
        f"app = create_app({served_stack.app_config()!r});"
        "response = app.test_client().post('/api/recommendations', json={'liked': [862, 863]});"
        "assert response.status_code == 200 and response.get_json()['recommendations'], response.get_data();"
        "assert not {'faiss', 'dagster', 'pyspark'} & {name.split('.')[0] for name in sys.modules}, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def artifacts_copy(served_stack, tmp_path):
    shutil.copytree(served_stack.artifacts_dir, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".serving"))
    return tmp_path


def test_workers_build_the_serving_form_once_and_share_it(artifacts_copy):
    stores = [ArtifactStore(artifacts_copy, check_seconds=60) for _ in range(3)]
    snapshots = [None] * len(stores)

    def first_load(index):
        snapshots[index] = stores[index].current()

    threads = [threading.Thread(target=first_load, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({snapshot.version for snapshot in snapshots}) == 1
    assert [path.name for path in (artifacts_copy / ".serving").iterdir() if not path.name.startswith(".")] == [snapshots[0].version]


def _mapped_versions(cache_dir) -> set[str]:
    """Serving-form folders this process has mapped right now."""
    prefix = f"{cache_dir}/"
    with open("/proc/self/maps") as maps:
        return {line.split(prefix, 1)[1].split("/")[0] for line in maps if prefix in line}


def _rewrite_similar(directory, factor: float, weight: float) -> None:
    """A new materialization in the pipeline's order: each Parquet file renamed into place, the manifest last."""
    path = directory / SIMILAR_MOVIES_PATH
    table = pq.read_table(path)
    table = table.set_column(table.schema.get_field_index("score"), "score", pc.multiply(table.column("score"), factor))
    temporary = path.with_name(".similar.tmp")
    pq.write_table(table, temporary)
    temporary.rename(path)
    manifest = json.loads((directory / HYBRID_MANIFEST_PATH).read_text())
    (directory / ".manifest.tmp").write_text(json.dumps({**manifest, "weight": weight}))
    (directory / ".manifest.tmp").rename(directory / HYBRID_MANIFEST_PATH)
    publish(directory)


def test_a_reload_under_load_serves_one_version_per_response_then_one_copy(served_stack, artifacts_copy):
    app = create_app(served_stack.app_config(ARTIFACTS_DIR=str(artifacts_copy), ARTIFACT_CHECK_SECONDS=0))
    store = app.extensions["spin_reel_artifacts"]
    ids = [862, 863, 10193, 194]
    client = app.test_client()

    def bodies():
        return {tmdb_id: client.get(f"/api/movies/{tmdb_id}/similar").get_json() for tmdb_id in ids}

    old = bodies()
    first = store.current()
    hybrid = artifacts_copy / "hybrid"
    seen, stop, errors = [], threading.Event(), []

    def hammer():
        local = app.test_client()
        while not stop.is_set():
            for tmdb_id in ids:
                response = local.get(f"/api/movies/{tmdb_id}/similar")
                if response.status_code != 200:
                    errors.append(response.status_code)
                seen.append((tmdb_id, response.get_json()))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        _rewrite_similar(artifacts_copy, factor=0.5, weight=0.3)
        new_snapshot = eventually(store, lambda snapshot: snapshot is not first)
        new = bodies()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors and new_snapshot.weight == 0.3
    assert all(new[tmdb_id]["weight"] == 0.3 and new[tmdb_id] != old[tmdb_id] for tmdb_id in ids)
    # Each response is wholly the old or wholly the new version (weight, scores and shares together).
    assert all(body in (old[tmdb_id], new[tmdb_id]) for tmdb_id, body in seen)
    assert {body["weight"] for _, body in seen} == {0.5, 0.3}
    del first, seen, old
    gc.collect()
    assert _mapped_versions(artifacts_copy / ".serving") == {new_snapshot.version}
    assert hybrid.exists()


def test_memory_of_the_old_version_is_released(artifacts_copy):
    store = ArtifactStore(artifacts_copy, check_seconds=0)
    first = store.current()
    version = first.version
    first.similar_movies.get(862, 20)
    assert _mapped_versions(artifacts_copy / ".serving") == {version}
    del first
    _rewrite_similar(artifacts_copy, factor=0.25, weight=0.5)
    second = eventually(store, lambda snapshot: snapshot.version != version)
    gc.collect()
    assert _mapped_versions(artifacts_copy / ".serving") == {second.version}


def test_a_damaged_serving_form_is_rebuilt(artifacts_copy):
    version = ArtifactStore(artifacts_copy).current().version
    (artifacts_copy / ".serving" / version / "similar.arrow").write_bytes(b"truncated")
    snapshot = ArtifactStore(artifacts_copy).current()
    assert snapshot is not None and snapshot.version == version and snapshot.similar_movies.get(862, 5)


def test_the_builder_names_the_broken_file(artifacts_copy):
    (artifacts_copy / SIMILAR_MOVIES_PATH).write_bytes(b"PAR1 not really")
    publish(artifacts_copy)
    result = subprocess.run([sys.executable, "-c", "import sys; from spin_reel_web.serving_form import main; sys.exit(main())",
                             str(artifacts_copy), str(artifacts_copy / ".serving")], capture_output=True, text=True,
                            env={**os.environ})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: hybrid/similar_movies.parquet: not a readable Parquet file")


def _building_forbidden(monkeypatch):
    """Fails the test if this process would build a serving form itself."""
    def forbidden(*_args):
        raise AssertionError("the web app built a serving form although one was published")
    monkeypatch.setattr("spin_reel_web.serving_form.build_in_subprocess", forbidden)


def test_a_published_serving_form_is_mapped_not_built(artifacts_copy, tmp_path_factory, monkeypatch):
    """What the pipeline's serving_form asset leaves beside the artifacts is what a worker maps, even with a
    cache folder of its own configured."""
    from spin_reel_web import serving_form

    folder = serving_form.build(artifacts_copy, serving_form.default_cache_dir(artifacts_copy))
    _building_forbidden(monkeypatch)
    own = tmp_path_factory.mktemp("own-cache")
    snapshot = ArtifactStore(artifacts_copy, cache_dir=own).current()
    assert snapshot.version == folder.name and snapshot.similar_movies.get(862, 5)
    assert list(own.iterdir()) == []


def test_without_a_published_form_a_worker_builds_into_its_own_cache(served_stack, artifacts_copy, tmp_path_factory):
    """SPIN_REEL_SERVING_DIR: for an artifacts directory the web app must not write (mounted read-only)."""
    own = tmp_path_factory.mktemp("own-cache")
    # The test's own stores, not whatever server the defaults point at on this machine.
    app = create_app(served_stack.app_config(TESTING=True, ARTIFACTS_DIR=str(artifacts_copy), SERVING_DIR=str(own)))
    body = app.test_client().get("/api/movies/862/similar").get_json()
    assert body["similar"] and not (artifacts_copy / ".serving").exists()
    version = app.extensions["spin_reel_artifacts"].current().version
    assert [path.name for path in own.iterdir() if not path.name.startswith(".")] == [version]


def test_a_new_version_is_taken_from_the_pipeline_when_it_publishes_one(artifacts_copy, tmp_path_factory, monkeypatch):
    """With a cache folder of its own, a serving process that sees a new materialization keeps the previous
    version while the pipeline's serving_form asset builds the new one, and maps that instead of building twice."""
    from spin_reel_web import serving_form

    own = tmp_path_factory.mktemp("own-cache")
    store = ArtifactStore(artifacts_copy, check_seconds=0, cache_dir=own, publish_wait_seconds=30)
    first = store.current()
    assert first.weight == 0.5
    _building_forbidden(monkeypatch)
    _rewrite_similar(artifacts_copy, factor=0.5, weight=0.3)
    assert store.current().version == first.version  # still the previous one: the new one is not published yet
    published = serving_form.build(artifacts_copy, serving_form.default_cache_dir(artifacts_copy))  # the asset
    second = eventually(store, lambda snapshot: snapshot.version != first.version)
    assert second.version == published.name and second.weight == 0.3
    assert [path.name for path in own.iterdir() if not path.name.startswith(".")] == [first.version]


def test_a_version_the_pipeline_does_not_publish_is_built_after_the_wait(artifacts_copy, tmp_path_factory):
    own = tmp_path_factory.mktemp("own-cache")
    store = ArtifactStore(artifacts_copy, check_seconds=0, cache_dir=own, publish_wait_seconds=0.5)
    first = store.current()
    _rewrite_similar(artifacts_copy, factor=0.5, weight=0.3)
    second = eventually(store, lambda snapshot: snapshot.version != first.version)
    assert second.weight == 0.3 and (own / second.version / "meta.json").exists()
    assert not (artifacts_copy / ".serving").exists()
