"""The whole asset graph materialized on the bundled sample into real stores (see the ``materialized`` fixture)."""

import json

import dagster as dg
import numpy as np
import psycopg
import pytest
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pymongo

from spin_reel_assets.recommender.blend import SCHEDULE_GRID, WeightSchedule, schedule_key
from spin_reel_assets.recommender.evaluation import COLD_ROUTES


def test_every_asset_and_check_succeeds(materialized):
    assert materialized.result.success
    keys = {event.asset_key.to_user_string() for event in materialized.result.get_asset_materialization_events()}
    assert keys == {"clean_ratings", "clean_movies", "ratings_table", "movies_table", "movies_collection", "als_model",
                    "als_validation_model", "faiss_index", "blend_weights", "hybrid_recommendations",
                    "serving_form", "recommendation_quality"}
    checks = {e.check_name: e.passed for e in materialized.result.get_asset_check_evaluations()}
    assert checks["every_user_has_top_n"] and checks["no_rated_movie_recommended"] and checks["ids_exist_in_collection"]
    assert checks["clean_ratings_are_sound"] and checks["clean_movies_are_sound"]


def test_ratings_reach_postgres_with_exact_counts(materialized):
    clean = materialized.metadata("clean_ratings")
    assert clean["rows_in"] == 100_836 and clean["rows_out"] == 100_822
    assert clean["quarantine: movie has no tmdb id"] == 13
    assert clean["quarantine: duplicate (user, movie): older rating"] == 1
    quarantine = pq.read_table(materialized.artifacts / "clean_ratings.quarantine.parquet")
    assert quarantine.num_rows == 14
    with psycopg.connect(materialized.postgres_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT user_id) FROM ratings").fetchone() == (100_822, 610)
        assert conn.execute("SELECT rating FROM ratings WHERE user_id = %s AND tmdb_id = %s", (1, 862)).fetchone() == (4.0,)
        assert conn.execute("SELECT count(*) FROM movies").fetchone() == (13_830,)


def test_movies_reach_mongodb_as_typed_documents(materialized):
    client = pymongo.MongoClient(materialized.mongo_uri)
    movies = client[materialized.mongo_db]["movies"]
    assert movies.count_documents({}) == 13_830
    toy_story = movies.find_one({"_id": 862})
    assert toy_story["title"] == "Toy Story" and "Animation" in toy_story["genres"]
    assert toy_story["release_date"].year == 1995 and toy_story["movielens_ids"] == [1]
    assert [d["_id"] for d in movies.find({"title_lower": {"$regex": "^toy story"}}, {"_id": 1}).sort("_id")] == [862, 863, 10193, 213121, 256835, 301528]
    # the content index, built from the cleaned movies beside this write, has a row for exactly these documents
    index_ids = np.load(materialized.artifacts / "faiss_index" / "ids.npy")
    assert index_ids.tolist() == sorted(d["_id"] for d in movies.find({}, {"_id": 1}))
    client.close()


def test_hybrid_files_hold_every_user_and_movie(materialized):
    folder = materialized.artifacts / "hybrid"
    recs = pq.read_table(folder / "user_recommendations.parquet")
    similar = pq.read_table(folder / "similar_movies.parquet")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert recs.column_names == ["user_id", "rank", "tmdb_id", "score", "als_score", "content_score", "because_tmdb_id"]
    assert similar.column_names == ["tmdb_id", "rank", "similar_tmdb_id", "score", "content_score", "als_score"]
    top_n = manifest["top_n"]
    users, counts = np.unique(recs.column("user_id").to_numpy(), return_counts=True)
    assert len(users) == 610 and (counts == top_n).all()
    assert recs.column("because_tmdb_id").null_count == 0
    movies, counts = np.unique(similar.column("tmdb_id").to_numpy(), return_counts=True)
    assert (counts == top_n).all()
    assert not (similar.column("tmdb_id").to_numpy() == similar.column("similar_tmdb_id").to_numpy()).any()
    # precomputed similar lists for exactly the rated movies (the web app ranks the others' on request) ...
    hybrid = materialized.metadata("hybrid_recommendations")
    assert hybrid["movies_without_ratings"] > 4_000
    embeddings = pq.read_table(folder / "item_embeddings.parquet")
    cold = embeddings.filter(embeddings.column("als_imputed")).column("tmdb_id").to_numpy()
    assert len(cold) == hybrid["movies_without_ratings"]
    fitted = pc.and_(pc.invert(embeddings.column("als_imputed")), pc.is_valid(embeddings.column("als")))
    rated = embeddings.filter(fitted).column("tmdb_id").to_numpy()
    assert manifest["similar_lists"] == "rated" and np.array_equal(movies, np.sort(rated))
    assert hybrid["movies_with_similar_lists"] == len(rated) > 9_000
    # ... whose lists bring movies nobody rated, by content and their content-derived factors
    assert np.isin(cold, similar.column("similar_tmdb_id").to_numpy()).any()
    # ... and reach users' lists: their ALS factors are imputed from their content neighbours
    assert hybrid["cold_movies_recommended"] > 0
    assert np.isin(cold, recs.column("tmdb_id").to_numpy()).any()
    assert 0.0 <= manifest["weight"] <= 1.0 and hybrid["als_weight"] == manifest["weight"]
    # the blend is the one blend_weights chose on the tuning users' held-out ratings: the best schedule of its
    # grid for user lists, the best ALS share for similar-movie lists
    chosen = json.loads((materialized.artifacts / "blend" / "manifest.json").read_text())
    assert manifest["weight"] == chosen["als_weight"] and manifest["weight_source"] == "blend_weights"
    assert chosen["weight_grid_ndcg@10"][str(chosen["als_weight"])] == max(chosen["weight_grid_ndcg@10"].values())
    assert manifest["user_schedule"] == chosen["schedule"]
    schedule = WeightSchedule.from_dict(chosen["schedule"])
    grid = chosen["schedule_grid_ndcg@10"]
    assert len(grid) == len(SCHEDULE_GRID) and grid[schedule_key(schedule)] == max(grid.values())
    table = pq.read_table(materialized.artifacts / "blend" / "schedule_grid.parquet")
    assert table.num_rows == len(SCHEDULE_GRID) and max(table.column("tuning_ndcg@10").to_pylist()) == max(grid.values())
    # ... and the cold route that did better at that schedule (ties keep the neighbour imputation)
    routes = chosen["cold_route_ndcg@10"]
    assert set(routes) == set(COLD_ROUTES) and manifest["cold_route"] == chosen["cold_route"] == hybrid["cold_route"]
    assert routes[chosen["cold_route"]] == max(routes.values())
    assert routes["neighbours"] == grid[schedule_key(schedule)]


def test_rated_movies_are_never_recommended_back(materialized):
    recs = pq.read_table(materialized.artifacts / "hybrid" / "user_recommendations.parquet")
    with psycopg.connect(materialized.postgres_url) as conn:
        rated = set(conn.execute("SELECT user_id, tmdb_id FROM ratings").fetchall())
    pairs = set(zip(recs.column("user_id").to_pylist(), recs.column("tmdb_id").to_pylist()))
    assert not pairs & rated
    because = set(zip(recs.column("user_id").to_pylist(), recs.column("because_tmdb_id").to_pylist()))
    assert because <= rated  # the explanation is always a movie the user rated


def test_quality_report_compares_four_recommenders(materialized):
    quality = materialized.metadata("recommendation_quality")
    for name in ("popularity", "als", "content", "hybrid"):
        for metric in ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage"):
            assert 0.0 <= quality[f"{name}/{metric}"] <= 1.0
    assert "| hybrid |" in quality["report"]
    # the personalised models beat the popularity baseline on held-out ratings
    assert quality["als/ndcg@10"] > quality["popularity/ndcg@10"]
    # tuning and evaluation users are disjoint groups of the 610 users with held-out ratings
    validation = materialized.metadata("als_validation_model")
    assert validation["tuning_users"] + validation["evaluation_users"] == 610 and validation["tuning_users"] > 100
    assert materialized.metadata("blend_weights")["tuning_users"] == validation["tuning_users"]
    assert quality["evaluation_users"] == validation["evaluation_users"]
    groups = pq.read_table(materialized.artifacts / "validation" / "user_groups.parquet").to_pydict()
    tuning = {u for u, g in zip(groups["user_id"], groups["group"]) if g == "tuning"}
    assert len(tuning) == validation["tuning_users"] and len(set(groups["user_id"])) == 610
    metrics = pq.read_table(materialized.artifacts / "quality" / "metrics.parquet").to_pylist()
    by_name = {row["recommender"]: row for row in metrics}
    # the explicit rating model is opt-in; the single ALS share and the other cold route are the references
    other = next(route for route in COLD_ROUTES if route != quality["cold_route"])
    assert set(by_name) == {"popularity", "als", "content", "hybrid", "hybrid, one ALS share",
                            f"hybrid, {other} cold route"}
    assert float(by_name[f"hybrid, {other} cold route"]["cold hits@10"]).is_integer()
    assert "rating_model_rmse" not in quality
    assert by_name["hybrid"]["ndcg@10"] == pytest.approx(quality["hybrid/ndcg@10"], abs=1e-5)
    # the hybrid against the better of ALS alone and popularity, in total and per segment, with its interval
    for segment in ("", " users 1-5", " users 6-20", " users 21-100", " users >100"):
        metric = f"ndcg@10{segment}"
        key = f"hybrid/ndcg@10 vs better baseline {segment.strip() or 'all'}"
        better = max(by_name["als"][metric], by_name["popularity"][metric])
        assert quality[key] == pytest.approx(by_name["hybrid"][metric] / better, abs=2e-4)
        assert quality[f"{key} low"] <= quality[key] <= quality[f"{key} high"]
    assert "| 1-5 |" in quality["hybrid_vs_better_baseline"]


def test_the_explicit_rating_model_is_opt_in(materialized):
    """`rating_model: true` adds explicit ALS (its own Spark fit on the validation train part) and its RMSE."""
    import dagster as dg

    from spin_reel_assets.definitions import defs

    config = dg.RunConfig(ops={"recommendation_quality": {"config": {"rating_model": True}}})
    result = dg.materialize(list(defs().assets), instance=materialized.instance, resources=materialized.resources,
                            selection=dg.AssetSelection.assets("recommendation_quality"), run_config=config)
    [event] = result.asset_materializations_for_node("recommendation_quality")
    assert 0.5 < event.metadata["rating_model_rmse"].value < 1.5
    metrics = pq.read_table(materialized.artifacts / "quality" / "metrics.parquet").column("recommender").to_pylist()
    assert "als explicit (rating model)" in metrics
    # back to the default report, so the stores hold what the code location's own config produces
    assert dg.materialize(list(defs().assets), instance=materialized.instance, resources=materialized.resources,
                          selection=dg.AssetSelection.assets("recommendation_quality")).success


def test_the_web_app_maps_the_serving_form_the_pipeline_built(materialized, monkeypatch):
    """serving_form builds what a web worker would otherwise build on its first request: the worker maps it."""
    from spin_reel_web.artifacts import ArtifactStore

    # The latest materializations, not the session's first: other modules rebuild these stores (test_staleness).
    def latest(asset: str) -> dict:
        event = materialized.instance.get_latest_materialization_event(dg.AssetKey(asset))
        return {key: value.value for key, value in event.asset_materialization.metadata.items()}

    built = latest("serving_form")
    assert (materialized.artifacts / ".serving" / built["version"] / "meta.json").exists()
    assert built["movies"] == latest("hybrid_recommendations")["movies"]

    def forbidden(*_args):
        raise AssertionError("the web app rebuilt the serving form")
    monkeypatch.setattr("spin_reel_web.serving_form.build_in_subprocess", forbidden)
    snapshot = ArtifactStore(materialized.artifacts).current()
    assert snapshot.version == built["version"]
    users = pq.read_table(materialized.artifacts / "hybrid" / "user_recommendations.parquet").to_pandas()
    first = users[users.user_id == 1].sort_values("rank").tmdb_id.tolist()
    assert [row["tmdb_id"] for row in snapshot.user_recommendations.get(1, 100)] == first
