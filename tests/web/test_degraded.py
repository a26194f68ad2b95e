"""MongoDB or PostgreSQL down, or no artifacts yet: pages still render what is there, with a visible notice."""

from __future__ import annotations

import re
import socket
import time

import psycopg
import pymongo.errors
import pytest

from spin_reel_web import create_app, stores

MONGO_NOTICE = "MongoDB is unreachable right now"
POSTGRES_NOTICE = "PostgreSQL is unreachable right now"
ARTIFACTS_NOTICE = "Recommendations are not available yet"


@pytest.fixture(scope="module")
def stores_down(served_stack, closed_port):
    """The app on the real artifacts, with MongoDB and PostgreSQL pointed at a closed port."""
    app = create_app(served_stack.app_config(
        MONGO_URI=f"mongodb://127.0.0.1:{closed_port}", POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{closed_port}/spin_reel",
        STORE_TIMEOUT_SECONDS=0.5,
    ))
    return app.test_client()


def html(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status
    return response.get_data(as_text=True)


def notices(text: str) -> str:
    match = re.search(r'<div class="notices" role="status">(.*?)</div>', text, re.S)
    return match.group(1) if match else ""


def test_movie_page_renders_the_similar_movies_from_the_artifacts(stores_down):
    text = html(stores_down, "/movies/862")
    assert MONGO_NOTICE in notices(text)
    assert "Details for this movie are not available." in text
    assert len(re.findall(r'data-tmdb-id="\d+"', text)) == 20 and "Movie 863" in text
    assert "/static/placeholder.svg" in text


def test_user_page_renders_recommendations_without_history(stores_down):
    text = html(stores_down, "/users/1")
    assert MONGO_NOTICE in notices(text) and POSTGRES_NOTICE in notices(text)
    assert len(re.findall(r'data-tmdb-id="\d+"', text)) == 20
    assert "The rating history is not available right now." in text


def test_index_and_search_render_with_notice(stores_down):
    text = html(stores_down, "/?q=toy")
    assert MONGO_NOTICE in notices(text) and "Popular movies are not available right now." in text


def test_views_render_with_notice(stores_down):
    assert MONGO_NOTICE in notices(html(stores_down, "/mongo?title=Toy+Story"))
    assert POSTGRES_NOTICE in notices(html(stores_down, "/postgres?title=Toy+Story"))


def test_discover_still_recommends(stores_down):
    text = html(stores_down, "/discover?liked=862")
    assert MONGO_NOTICE in notices(text) and len(re.findall(r'data-tmdb-id="\d+"', text)) == 20


def test_api_answers_from_the_artifacts_with_notices(stores_down):
    body = stores_down.get("/api/users/1/recommendations?n=5").get_json()
    assert len(body["recommendations"]) == 5 and body["recommendations"][0]["movie"] is None
    assert any(MONGO_NOTICE in notice for notice in body["notices"])
    movie = stores_down.get("/api/movies/862").get_json()
    assert movie["movie"] is None and movie["notices"]
    assert stores_down.get("/api/movies/999999999").status_code == 404  # unknown to the artifacts too
    search = stores_down.get("/api/search?q=toy").get_json()
    assert search["results"] == [] and search["notices"]


def test_a_hanging_store_is_skipped_for_a_while(served_stack):
    # A server that accepts connections but never answers costs the full timeout once; then requests skip it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        app = create_app(served_stack.app_config(
            MONGO_URI=f"mongodb://127.0.0.1:{silent.getsockname()[1]}", STORE_TIMEOUT_SECONDS=0.5, STORE_RETRY_SECONDS=60,
        ))
        client = app.test_client()
        started = time.perf_counter()
        assert MONGO_NOTICE in html(client, "/movies/862")
        first = time.perf_counter() - started
        started = time.perf_counter()
        assert MONGO_NOTICE in html(client, "/movies/863")
        assert 0.4 <= first < 3 and time.perf_counter() - started < 0.2


def test_without_artifacts_pages_render_the_stores(served_stack, tmp_path):
    client = create_app(served_stack.app_config(ARTIFACTS_DIR=str(tmp_path))).test_client()
    text = html(client, "/movies/862")
    assert ARTIFACTS_NOTICE in notices(text) and "Toy Story" in text
    text = html(client, "/users/1")  # known from PostgreSQL
    assert ARTIFACTS_NOTICE in notices(text) and "No recommendations for this user yet." in text and "ratings, newest first" in text
    api = client.get("/api/users/1/recommendations")
    assert api.status_code == 503 and "not loaded" in api.get_json()["message"]
    assert client.post("/api/recommendations", json={"liked": [862]}).status_code == 503
    assert ARTIFACTS_NOTICE in notices(html(client, "/discover?liked=862"))


# --- which driver errors are an outage --------------------------------------------------------------


def test_a_query_postgres_rejects_is_a_bug_not_an_outage(app):
    # A value PostgreSQL cannot store (validation keeps it from every route) raises, and marks nothing down.
    with app.test_request_context("/"):
        with pytest.raises(psycopg.DataError):
            stores.with_postgres(lambda connection: connection.execute("SELECT %s::text", ("toy\x00story",)), None)
        assert stores.notices() == []
    assert app.extensions["spin_reel_stores"].health[stores.POSTGRES].available()


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM no_such_table",  # the pipeline has not loaded the tables yet
        "SELECT pg_sleep(2)",  # over the statement timeout
    ],
)
def test_postgres_up_but_not_answering_is_a_notice_for_this_request_only(app, query):
    def run(connection):
        with connection.transaction():
            connection.execute("SET LOCAL statement_timeout = 50")
            return connection.execute(query).fetchall()

    with app.test_request_context("/"):
        assert stores.with_postgres(run, "default") == "default"
        assert stores.notices() == [stores.UNANSWERED_NOTICES[stores.POSTGRES]]
        # skipped for the rest of this request, which already has its notice
        assert stores.with_postgres(lambda connection: connection.execute("SELECT 1").fetchone(), None) is None
    assert app.extensions["spin_reel_stores"].health[stores.POSTGRES].available()
    with app.test_request_context("/"):
        assert stores.with_postgres(lambda connection: connection.execute("SELECT 1").fetchone(), None) == (1,)
        assert stores.notices() == []


def test_a_query_mongodb_rejects_is_a_bug_not_an_outage(app):
    with app.test_request_context("/"):
        with pytest.raises(pymongo.errors.OperationFailure):
            stores.with_mongo(lambda db: list(db.movies.find({"$bogus": 1})), None)
        assert stores.notices() == []
    assert app.extensions["spin_reel_stores"].health[stores.MONGO].available()


def test_postgres_down_is_an_outage_skipped_for_a_while(served_stack, closed_port):
    app = create_app(served_stack.app_config(
        POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{closed_port}/spin_reel", STORE_TIMEOUT_SECONDS=0.3, STORE_RETRY_SECONDS=60,
    ))
    client = app.test_client()
    assert POSTGRES_NOTICE in notices(html(client, "/users/1"))
    assert not app.extensions["spin_reel_stores"].health[stores.POSTGRES].available()
    started = time.perf_counter()
    assert POSTGRES_NOTICE in notices(html(client, "/users/2"))
    assert time.perf_counter() - started < 0.2  # skipped, not waited for
