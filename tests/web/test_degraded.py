"""MongoDB or PostgreSQL down, or no artifacts yet: pages still render what is there, with a visible notice."""

from __future__ import annotations

import re
import socket
import time

import pytest

from spin_reel_web import create_app

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
