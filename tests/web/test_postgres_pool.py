"""The web app's PostgreSQL connections come from a psycopg pool: opened lazily, one per request, reused, and
replaced when the server dropped them. Counted on the server itself (pg_stat_activity)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from spin_reel_web import create_app
from spin_reel_web.stores import POSTGRES

POSTGRES_NOTICE = "PostgreSQL is unreachable right now"


@pytest.fixture
def application_name() -> str:
    return f"spin-reel-pool-{uuid.uuid4().hex[:8]}"


def app_for(served_stack, application_name: str, **config):
    return create_app(served_stack.app_config(POSTGRES_URL=f"{served_stack.postgres_url}?application_name={application_name}", **config))


def backends(postgres_server_url: str, application_name: str) -> list[int]:
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,))
        return [pid for (pid,) in rows]


def history_page(client, user_id: int = 1) -> str:
    response = client.get(f"/users/{user_id}")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and POSTGRES_NOTICE not in text and "ratings, newest first" in text
    return text


def test_nothing_connects_before_a_request_needs_postgres(served_stack, postgres_server_url, application_name):
    app = app_for(served_stack, application_name)
    client = app.test_client()
    assert backends(postgres_server_url, application_name) == []
    assert client.get("/api/users/1/recommendations").status_code == 200  # artifacts and MongoDB only
    assert backends(postgres_server_url, application_name) == []
    history_page(client)
    first = backends(postgres_server_url, application_name)
    assert len(first) == 1
    for user_id in (1, 2, 3, 4, 5):
        history_page(client, user_id)
    assert backends(postgres_server_url, application_name) == first  # the same connection, back in the pool


def test_a_connection_the_server_dropped_is_replaced_not_an_outage(served_stack, postgres_server_url, application_name):
    app = app_for(served_stack, application_name)
    client = app.test_client()
    history_page(client)
    [dropped] = backends(postgres_server_url, application_name)
    with psycopg.connect(postgres_server_url, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    deadline = time.monotonic() + 5
    while dropped in backends(postgres_server_url, application_name) and time.monotonic() < deadline:
        time.sleep(0.05)  # the backend exits just after the call returns
    history_page(client)
    replaced = backends(postgres_server_url, application_name)
    # The pool checked the connection before lending it, dropped it and opened another (a second may be under way).
    assert replaced and dropped not in replaced and len(replaced) <= 2
    assert app.extensions["spin_reel_stores"].health[POSTGRES].available()


def test_concurrent_requests_share_the_pool(served_stack, postgres_server_url, application_name):
    app = app_for(served_stack, application_name, POSTGRES_POOL_SIZE=2)
    client = app.test_client()
    with ThreadPoolExecutor(max_workers=6) as threads:
        pages = list(threads.map(lambda user_id: app.test_client().get(f"/users/{user_id}"), [1 + i % 30 for i in range(60)]))
    assert all(page.status_code == 200 and POSTGRES_NOTICE not in page.get_data(as_text=True) for page in pages)
    assert 1 <= len(backends(postgres_server_url, application_name)) <= 2
    history_page(client)
