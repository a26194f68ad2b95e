"""/healthz: artifact age and store reachability."""

from __future__ import annotations

from spin_reel_web import create_app


def test_healthy_stack(client, served_stack):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    artifacts = body["artifacts"]
    assert artifacts["loaded"] and artifacts["users"] == 606 and artifacts["movies_with_similar"] == served_stack.ratings.tmdb_id.nunique()
    assert 0 <= artifacts["age_seconds"] < 3600 and artifacts["weight"] == 0.5 and artifacts["top_n"] == 20
    assert body["mongodb"]["reachable"] and body["postgresql"]["reachable"]


def test_without_artifacts_is_503(served_stack, tmp_path):
    client = create_app(served_stack.app_config(ARTIFACTS_DIR=str(tmp_path))).test_client()
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["status"] == "unavailable" and body["artifacts"] == {"loaded": False}
    assert body["mongodb"]["reachable"] and body["postgresql"]["reachable"]


def test_unreachable_stores_are_reported(served_stack, closed_port):
    app = create_app(served_stack.app_config(
        MONGO_URI=f"mongodb://127.0.0.1:{closed_port}", POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{closed_port}/x",
        STORE_TIMEOUT_SECONDS=0.3,
    ))
    response = app.test_client().get("/healthz")
    body = response.get_json()
    assert response.status_code == 200  # the artifacts alone decide
    assert not body["mongodb"]["reachable"] and "ServerSelectionTimeoutError" in body["mongodb"]["error"]
    assert not body["postgresql"]["reachable"] and "OperationalError" in body["postgresql"]["error"]
