"""Server-rendered pages against the sample stack: content, accessibility hooks and every error path."""

from __future__ import annotations

import html
import re

import pytest

TOY_STORY, TOY_STORY_2, TOY_STORY_3 = 862, 863, 10193


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def card_ids(text: str) -> list[int]:
    """tmdb ids of the ranked cards, in page order."""
    return [int(value) for value in re.findall(r'data-tmdb-id="(\d+)"', text)]


def table_rows(text: str) -> list[list[str]]:
    """Cell texts of the body rows of the page's (first) data table."""
    body = re.search(r"<tbody>(.*?)</tbody>", text, re.S).group(1)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_layout_is_accessible(client):
    text = page(client, "/")
    assert '<html lang="en">' in text and '<a class="skip-link" href="#main">' in text
    for landmark in ("<header", '<nav aria-label="Main">', '<main id="main"', "<footer"):
        assert landmark in text
    assert '<a href="/" aria-current="page">Search</a>' in text
    assert '<label for="movie-search">' in text and 'role="combobox"' in text
    assert "https://" not in re.sub(r'src="https://image\.tmdb\.org[^"]*"', "", text)  # no CDN: only TMDB posters


def test_security_headers(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-hashes' 'sha256-" in policy and "img-src 'self' https://image.tmdb.org" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in policy and response.headers["X-Frame-Options"] == "DENY"  # the latter for old browsers


@pytest.mark.parametrize(("url", "status"), [("/nowhere", 404), ("/movies/abc", 400), ("/static/placeholder.svg", 200), ("/api/nothing", 404)])
def test_security_headers_on_every_response(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_index_shows_popular_movies(client, served_stack):
    text = html.unescape(page(client, "/"))
    most_popular = served_stack.movies.sort_values("popularity", ascending=False).title.head(5)
    for title in most_popular:
        assert f'<span class="card-title">{title}</span>' in text


def test_index_search_without_javascript(client):
    text = page(client, "/?q=toy+story")
    assert "Titles starting with “toy story”" in text
    for title in ("Toy Story", "Toy Story 2", "Toy Story 3", "Toy Story 4"):
        assert f'<span class="card-title">{title}</span>' in text


def test_search_input_is_escaped(client):
    text = page(client, "/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_oversized_search_is_400_page(client):
    text = page(client, "/?q=" + "x" * 101, 400)
    assert "q is too long: at most 100 characters" in text and "<h1>400 · Bad Request</h1>" in text


def test_movie_page(client, app):
    text = page(client, f"/movies/{TOY_STORY}")
    assert '<h1 id="movie-title">Toy Story <span class="year">(1995)</span></h1>' in text
    assert "Animation, Adventure, Family, Comedy" in text and "1 h 21 min" in text
    assert "Led by Woody" in text  # the overview
    assert re.search(r"\d\.\d / 10 from [\d,]+ votes", text)
    poster = re.search(r'<img class="poster" src="([^"]+)"\s+alt="([^"]+)"[^>]*onerror="([^"]+)"', text)
    assert poster.group(1).startswith("https://image.tmdb.org/t/p/w342/")
    assert poster.group(2) == "Poster of Toy Story (1995)"
    assert html.unescape(poster.group(3)) == "this.onerror=null;this.src='/static/placeholder.svg'"


def test_movie_page_lists_similar_movies_in_api_order_with_shares(client):
    text = page(client, f"/movies/{TOY_STORY}")
    api = client.get(f"/api/movies/{TOY_STORY}/similar").get_json()["similar"]
    assert card_ids(text) == [row["tmdb_id"] for row in api]
    assert {TOY_STORY_2, TOY_STORY_3} <= set(card_ids(text)[:5])
    assert len(re.findall(r"content \d+ % · collaborative \d+ %", text)) == 20


def test_movie_page_n(client):
    assert len(card_ids(page(client, f"/movies/{TOY_STORY}?n=5"))) == 5


def test_movie_without_poster_uses_the_placeholder(client, served_stack):
    tmdb_id = int(served_stack.movies.loc[served_stack.movies.poster_path.isna(), "tmdb_id"].iloc[0])
    text = page(client, f"/movies/{tmdb_id}")
    assert re.search(r'<img class="poster" src="/static/placeholder.svg"', text)
    assert client.get("/static/placeholder.svg").status_code == 200


def test_unknown_movie_is_404_page_with_suggestions(client):
    text = page(client, "/movies/999999999", 404)
    assert "There is no movie with TMDB id 999999999." in text
    assert re.search(r'<ul class="suggestions">\s*<li><a href="/movies/\d+">', text)


@pytest.mark.parametrize("url", ["/movies/abc", "/movies/-3", "/movies/862?n=0", "/movies/862?n=101", "/movies/862?n=x"])
def test_bad_movie_input_is_400_page(client, url):
    assert "Bad Request" in page(client, url, 400)


def test_user_page(client, served_stack):
    text = page(client, "/users/1")
    rated = set(served_stack.ratings.loc[served_stack.ratings.user_id == 1, "tmdb_id"])
    ids = card_ids(text)
    assert len(ids) == 20 and not set(ids) & rated  # never a movie the user rated
    assert text.count("Because you rated <a href=") == 20
    because = {int(value) for value in re.findall(r'Because you rated <a href="/movies/(\d+)"', text)}
    assert because <= rated


def test_user_rating_history_is_paginated_newest_first(client, served_stack):
    ratings = served_stack.ratings[served_stack.ratings.user_id == 1].sort_values(["rated_at", "tmdb_id"], ascending=[False, True])
    pages = -(-len(ratings) // 20)
    first = page(client, "/users/1")
    assert f"{len(ratings)} ratings, newest first — page 1 of {pages}" in first
    rows = table_rows(first)
    assert len(rows) == 20
    assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)
    assert 'rel="next" href="/users/1?page=2"' in first and 'rel="prev"' not in first
    second = page(client, "/users/1?page=2")
    linked = [int(value) for value in re.findall(r'<td><a href="/movies/(\d+)">', second)]
    assert linked == ratings.tmdb_id.iloc[20:40].tolist()
    assert 'rel="prev" href="/users/1?page=1"' in second
    last = page(client, f"/users/1?page={pages}")
    assert 'rel="next"' not in last


def test_user_page_beyond_the_last_is_404(client):
    assert "rating history has" in page(client, "/users/1?page=999", 404)


@pytest.mark.parametrize("url", ["/users/abc", "/users/1?page=0", "/users/1?page=x", "/users/0"])
def test_bad_user_input_is_400_page(client, url):
    page(client, url, 400)


def test_unknown_user_is_404_page_with_nearby_users(client):
    text = page(client, "/users/700", 404)
    assert "There is no user 700." in text and '<a href="/users/610">User 610</a>' in text


def test_mongo_view(client, served_stack):
    text = page(client, "/mongo?title=Toy+Story")
    assert 'Movies similar to <a href="/movies/862">Toy Story (1995)</a>' in text
    rows = table_rows(text)
    assert len(rows) == 20 and [row[0] for row in rows] == [str(rank) for rank in range(1, 21)]
    movies = served_stack.movies.set_index("title")
    for _, title, _, vote, overview in rows[:5]:
        name = title.rsplit(" (", 1)[0]
        assert vote == f"{movies.loc[name, 'vote_average']:.1f}"
        assert overview == movies.loc[name, "overview"]


def test_mongo_view_prefix_and_accents(client):
    assert 'Movies similar to <a href="/movies/194">Amélie (2001)</a>' in page(client, "/mongo?title=amelie")


def test_mongo_view_without_title_shows_the_form(client):
    text = page(client, "/mongo")
    assert '<label for="title">Movie title</label>' in text and "<table" not in text


def test_mongo_view_unknown_title_is_404_with_suggestions(client):
    text = page(client, "/mongo?title=Toy+Zzz", 404)
    assert "No movie titled &#34;Toy Zzz&#34; in MongoDB." in text
    assert '<a href="/mongo?title=Toy+Story">Toy Story (1995)</a>' in text


def test_postgres_view(client, served_stack):
    text = page(client, "/postgres?title=toy story")
    assert 'Movies similar to <a href="/movies/862">Toy Story</a>' in text
    rows = table_rows(text)
    assert len(rows) == 20
    ratings = served_stack.ratings.groupby("tmdb_id").rating.agg(["mean", "count"])
    movies = served_stack.movies.set_index("tmdb_id")
    linked = [int(value) for value in re.findall(r'<td><a href="/movies/(\d+)">', text)]
    for tmdb_id, (_, title, _, year, genres, runtime, average, count) in zip(linked, rows):
        assert title.startswith(movies.loc[tmdb_id, "title"])
        assert year == str(int(movies.loc[tmdb_id, "release_date"][:4]))
        assert genres == movies.loc[tmdb_id, "genres"]
        if tmdb_id in ratings.index:
            assert average == f"{ratings.loc[tmdb_id, 'mean']:.2f}" and count == str(ratings.loc[tmdb_id, "count"])
        else:
            assert (average, count) == ("–", "0")


def test_postgres_view_unknown_title_is_404(client):
    assert "No movie titled &#34;Zzzz&#34; in PostgreSQL." in page(client, "/postgres?title=Zzzz", 404)


@pytest.mark.parametrize("url", ["/mongo?title=" + "x" * 101, "/postgres?title=" + "x" * 101, "/mongo?title=toy&n=0"])
def test_view_bad_input_is_400(client, url):
    page(client, url, 400)


def test_discover_form(client):
    text = page(client, "/discover")
    assert '<legend>Popular movies</legend>' in text
    assert len(re.findall(r'<input type="checkbox" name="liked" value="\d+">', text)) == 18
    assert "Recommended for you" not in text


def test_discover_recommends_for_liked_movies(client):
    text = page(client, f"/discover?liked={TOY_STORY}&liked={TOY_STORY_2}&n=10")
    assert f'<input type="checkbox" name="liked" value="{TOY_STORY}" checked> Toy Story (1995)' in text
    ids = card_ids(text)
    assert len(ids) == 10 and TOY_STORY_3 in ids[:3] and not {TOY_STORY, TOY_STORY_2} & set(ids)
    assert text.count("Because you like <a href=") == 10


def test_discover_by_post(client):
    response = client.post("/discover", data={"liked": [str(TOY_STORY)], "n": "5"})
    assert response.status_code == 200 and len(card_ids(response.get_data(as_text=True))) == 5


def test_discover_search_lists_matches_as_checkboxes(client):
    text = page(client, "/discover?q=toy+story")
    assert '<legend>Search results and popular movies</legend>' in text
    assert f'<input type="checkbox" name="liked" value="{TOY_STORY_3}"> Toy Story 3 (2010)' in text


def test_discover_with_unknown_ids_says_so(client):
    text = page(client, "/discover?liked=999999999")
    assert "Not in the recommender's catalogue, so ignored: 999999999." in text
    assert "No recommendations could be made from these movies." in text


@pytest.mark.parametrize("query", ["liked=abc", "liked=862&n=500", "&".join(f"liked={i}" for i in range(1, 60))])
def test_discover_bad_input_is_400(client, query):
    page(client, f"/discover?{query}", 400)


def test_unknown_page_is_404_with_suggestions(client):
    text = page(client, "/nowhere", 404)
    assert '<a href="/discover">Discover movies</a>' in text


def test_wrong_method_is_405_page(client):
    response = client.post(f"/movies/{TOY_STORY}")
    assert response.status_code == 405 and "Method Not Allowed" in response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]


# --- "did you mean" -------------------------------------------------------------------------------


def suggested(text: str) -> list[str]:
    return [html.unescape(label) for label in re.findall(r'<ul class="suggestions">.*?</ul>', text, re.S)[0].split("<li>")[1:]]


@pytest.mark.parametrize(
    ("url", "first"),
    [
        ("/mongo?title=Tyo+Stroy", '<a href="/mongo?title=Toy+Story">Toy Story (1995)</a>'),  # typos
        ("/postgres?title=amelei", '<a href="/postgres?title=Am%C3%A9lie">Amélie (2001)</a>'),  # typo, no accent
        ("/mongo?title=story+toy+zz", '<a href="/mongo?title=Toy+Story">Toy Story (1995)</a>'),  # word order
    ],
)
def test_unknown_title_suggests_the_closest_titles(client, url, first):
    text = page(client, url, 404)
    assert suggested(text)[0].startswith(first)


def test_unknown_title_like_nothing_suggests_popular_movies(client, served_stack):
    labels = suggested(page(client, "/mongo?title=Qqqxqqq", 404))
    most_popular = served_stack.movies.sort_values("popularity", ascending=False).title.head(5).tolist()
    assert [re.search(r">(.*) \(\d{4}\)</a>", label).group(1) for label in labels] == most_popular
