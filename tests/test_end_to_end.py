"""The web app serving what the pipeline materialized: real artifacts, real MongoDB and PostgreSQL contents."""

import pyarrow.parquet as pq
import pytest

from spin_reel_web import create_app


@pytest.fixture(scope="module")
def client(materialized):
    app = create_app({
        "SECRET_KEY": "test", "ARTIFACTS_DIR": str(materialized.artifacts), "POSTGRES_URL": materialized.postgres_url,
        "MONGO_URI": materialized.mongo_uri, "MONGO_DB": materialized.mongo_db,
    })
    return app.test_client()


def test_user_recommendations_are_the_pipeline_rows_enriched_from_mongodb(client, materialized):
    expected = pq.read_table(materialized.artifacts / "hybrid" / "user_recommendations.parquet").to_pandas()
    expected = expected[expected.user_id == 1].sort_values("rank")
    body = client.get("/api/users/1/recommendations?n=10").get_json()
    got = body["recommendations"]
    assert [r["tmdb_id"] for r in got] == expected.tmdb_id.tolist()[:10]
    assert all(r["movie"]["title"] for r in got)  # titles come from the MongoDB collection
    assert all(r["because"]["tmdb_id"] == r["because_tmdb_id"] for r in got)


def test_movie_page_and_similar_movies_for_toy_story(client):
    page = client.get("/movies/862")
    assert page.status_code == 200 and b"Toy Story" in page.data
    similar = client.get("/api/movies/862/similar?n=5").get_json()
    assert len(similar["similar"]) == 5 and all(s["tmdb_id"] != 862 for s in similar["similar"])


def test_postgres_view_joins_rating_averages(client):
    page = client.get("/postgres?title=Toy Story")
    assert page.status_code == 200 and b"Toy Story" in page.data


def test_cold_start_visitor_gets_recommendations_from_the_artifacts(client):
    response = client.post("/api/recommendations", json={"liked": [862, 863], "n": 10})
    assert response.status_code == 200
    picks = [r["tmdb_id"] for r in response.get_json()["recommendations"]]
    assert len(picks) == 10 and not {862, 863} & set(picks)


def test_health_reports_fresh_artifacts_and_reachable_stores(client):
    health = client.get("/healthz")
    assert health.status_code == 200
