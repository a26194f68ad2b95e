"""The JSON API against the sample stack: real outcomes and every error path."""

from __future__ import annotations

import pytest

TOY_STORY, TOY_STORY_2, TOY_STORY_3, TOY_STORY_4, AMELIE = 862, 863, 10193, 301528, 194


def rated_by(stack, user_id: int) -> set[int]:
    return set(stack.ratings.loc[stack.ratings.user_id == user_id, "tmdb_id"])


def assert_error(response, status: int, *fragments: str) -> dict:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["message"]
    return body


# --- /api/movies/<id> ---------------------------------------------------------------------------


def test_movie_metadata_from_mongo(client):
    body = client.get(f"/api/movies/{TOY_STORY}").get_json()
    movie = body["movie"]
    assert (movie["tmdb_id"], movie["title"], movie["year"], movie["runtime"]) == (TOY_STORY, "Toy Story", 1995, 81)
    assert "Animation" in movie["genres"] and movie["overview"]
    assert movie["release_date"] == "1995-10-30"
    assert movie["poster_url"].startswith("https://image.tmdb.org/t/p/w342/")
    assert body["notices"] == []


def test_unknown_movie_is_404_with_suggestions(client):
    body = assert_error(client.get("/api/movies/999999999"), 404, "999999999")
    assert body["suggestions"] and all(s["url"].startswith("/api/movies/") for s in body["suggestions"])


@pytest.mark.parametrize("bad", ["abc", "-5", "0", "1.5", "99999999999", "%20"])
def test_non_integer_movie_id_is_400(client, bad):
    assert_error(client.get(f"/api/movies/{bad}"), 400, "movie id")


# --- /api/movies/<id>/similar ---------------------------------------------------------------------


def test_similar_movies_ordered_by_score_with_shares(client):
    body = client.get(f"/api/movies/{TOY_STORY}/similar?n=10").get_json()
    rows = body["similar"]
    assert len(rows) == 10 and [row["rank"] for row in rows] == list(range(1, 11))
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert TOY_STORY not in {row["tmdb_id"] for row in rows}
    # The sequels are the closest in content and in who rated them.
    assert {TOY_STORY_2, TOY_STORY_3} <= {row["tmdb_id"] for row in rows[:5]}
    assert all(0 <= row["content_share"] <= 1 for row in rows)
    assert rows[0]["movie"]["title"].startswith("Toy Story")
    assert body["weight"] == 0.5


def test_similar_default_n_is_top_n(client):
    assert len(client.get(f"/api/movies/{TOY_STORY}/similar").get_json()["similar"]) == 20


def test_similar_movie_without_ratings_has_content_only(client, served_stack):
    # Toy Story 4 is not in the MovieLens sample: no ALS factors, so no ALS score and all of the share is content.
    rows = client.get(f"/api/movies/{TOY_STORY_4}/similar?n=5").get_json()["similar"]
    assert all(row["als_score"] is None and row["content_share"] in (1.0, None) for row in rows)


@pytest.mark.parametrize("n", ["0", "101", "abc", "-1", ""])
def test_similar_n_out_of_range_is_400(client, n):
    assert_error(client.get(f"/api/movies/{TOY_STORY}/similar?n={n}"), 400, "n must be an integer between 1 and 100")


def test_similar_of_unknown_movie_is_404(client):
    assert_error(client.get("/api/movies/999999999/similar"), 404)


# --- /api/users/<id>/recommendations --------------------------------------------------------------


@pytest.mark.parametrize("user_id", [1, 42, 414, 610])
def test_user_recommendations_never_include_rated_movies(client, served_stack, user_id):
    body = client.get(f"/api/users/{user_id}/recommendations?n=100").get_json()
    rows = body["recommendations"]
    rated = rated_by(served_stack, user_id)
    assert len(rows) == 20  # top_n of the artifacts
    assert not {row["tmdb_id"] for row in rows} & rated
    assert [row["rank"] for row in rows] == list(range(1, 21))
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    # "Because you rated X": X is one of the user's own ratings, with its title.
    assert all(row["because_tmdb_id"] in rated and row["because"]["title"] for row in rows)
    assert all(row["movie"]["title"] for row in rows)


def test_user_recommendations_n(client):
    assert len(client.get("/api/users/1/recommendations?n=3").get_json()["recommendations"]) == 3


def test_unknown_user_is_404_with_nearby_users(client):
    body = assert_error(client.get("/api/users/99999/recommendations"), 404, "99999")
    assert [s["url"] for s in body["suggestions"]][0] == "/api/users/610/recommendations"


@pytest.mark.parametrize("bad", ["me", "1e3", "-1", "2147483648"])
def test_bad_user_id_is_400(client, bad):
    assert_error(client.get(f"/api/users/{bad}/recommendations"), 400, "user id")


# --- /api/search ----------------------------------------------------------------------------------


def test_search_finds_toy_story_by_prefix_most_popular_first(client):
    results = client.get("/api/search?q=toy story").get_json()["results"]
    ids = [movie["tmdb_id"] for movie in results]
    assert {TOY_STORY, TOY_STORY_2, TOY_STORY_3, TOY_STORY_4} <= set(ids)
    assert all(movie["title"].lower().startswith("toy story") for movie in results)
    assert ids[0] == TOY_STORY  # the most popular of them in the sample
    assert set(results[0]) == {"tmdb_id", "title", "year", "genres", "poster_url", "vote_average"}


@pytest.mark.parametrize("query", ["  TOY   story ", "Toy", "toy s"])
def test_search_is_case_and_space_insensitive(client, query):
    assert TOY_STORY in [movie["tmdb_id"] for movie in client.get(f"/api/search?q={query}").get_json()["results"]]


def test_search_ignores_accents(client):
    assert [movie["title"] for movie in client.get("/api/search?q=amelie").get_json()["results"]] == ["Amélie"]
    assert [movie["tmdb_id"] for movie in client.get("/api/search?q=AMÉL").get_json()["results"]] == [AMELIE]


@pytest.mark.parametrize("query", [".*", "(", "toy.*", "[a-z]", "\\"])
def test_search_treats_regex_characters_literally(client, query):
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code == 200 and response.get_json()["results"] == []


def test_search_n_limits_results(client):
    assert len(client.get("/api/search?q=t&n=3").get_json()["results"]) == 3


def test_search_needs_a_query(client):
    assert_error(client.get("/api/search"), 400, "q is required")
    assert_error(client.get("/api/search?q=%20%20"), 400, "q is required")


def test_oversized_query_is_400(client):
    assert_error(client.get("/api/search", query_string={"q": "x" * 101}), 400, "at most 100 characters")


# --- POST /api/recommendations --------------------------------------------------------------------


def test_cold_start_recommendations(client):
    response = client.post("/api/recommendations", json={"liked": [TOY_STORY, TOY_STORY_2], "n": 10})
    body = response.get_json()
    assert response.status_code == 200
    assert body["liked"] == [TOY_STORY, TOY_STORY_2] and body["ignored"] == []
    rows = body["recommendations"]
    ids = [row["tmdb_id"] for row in rows]
    assert len(rows) == 10 and not {TOY_STORY, TOY_STORY_2} & set(ids)
    assert TOY_STORY_3 in ids[:3]
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    assert all(row["because_tmdb_id"] in (TOY_STORY, TOY_STORY_2) and row["because"]["title"] for row in rows)


def test_cold_start_ignores_unknown_ids(client):
    body = client.post("/api/recommendations", json={"liked": [TOY_STORY, 999999999]}).get_json()
    assert body["liked"] == [TOY_STORY] and body["ignored"] == [999999999] and len(body["recommendations"]) == 20


def test_cold_start_with_only_unknown_ids_is_404(client):
    assert_error(client.post("/api/recommendations", json={"liked": [999999999]}), 404, "999999999")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"liked": []}, "at least one"),
        ({"liked": "862"}, "must be a list"),
        ({}, "must be a list"),
        ({"liked": ["abc"]}, "Each liked id"),
        ({"liked": [True]}, "Each liked id"),
        ({"liked": [862.5]}, "Each liked id"),
        ({"liked": list(range(1, 52))}, "Too many liked movies"),
        ({"liked": [862], "n": 0}, "n must be"),
        ({"liked": [862], "n": 101}, "n must be"),
        ([862], "JSON object"),
    ],
)
def test_cold_start_bad_input_is_400(client, payload, fragment):
    assert_error(client.post("/api/recommendations", json=payload), 400, fragment)


def test_malformed_json_is_400(client):
    assert_error(client.post("/api/recommendations", data="{liked: [862", content_type="application/json"), 400, "JSON object")
    assert_error(client.post("/api/recommendations", data="liked=862"), 400, "JSON object")


def test_wrong_method_is_405_json(client):
    response = client.get("/api/recommendations")
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_unknown_api_route_is_404_json(client):
    assert_error(client.get("/api/nothing-here"), 404)
