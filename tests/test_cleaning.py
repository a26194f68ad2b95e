"""Cleaning functions against hand-made bad rows: every quarantine reason, with its line and field."""

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pytest

from spin_reel_assets.cleaning import movies as movie_cleaning
from spin_reel_assets.cleaning import ratings as rating_cleaning
from spin_reel_assets.cleaning.inputs import (InputError, find_input, read_links, read_movielens_movies, read_ratings,
                                             text_lines)
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, movies_from_movielens, read_tmdb, split_movielens_title
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map

from .conftest import SAMPLE_DIR, TEST_DATA

LINKS = "movieId,imdbId,tmdbId\n1,0114709,862\n2,0113497,8844\n3,0113228,\n4,0114885,862\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def quarantined(cleaned) -> list[tuple[int, str, str]]:
    return [(row["line"], row["field"], row["reason"]) for row in cleaned.quarantine.to_pylist()]


def test_every_rating_reason_is_quarantined_with_line_and_field(tmp_path):
    ratings = write(tmp_path / "ratings.csv", "\n".join([
        "userId,movieId,rating,timestamp",
        "1,1,4.0,964982703",          # 2 ok
        "1,2,,964982704",             # 3 missing rating
        "x,2,3.0,964982705",          # 4 userId not a number
        "1,2,6.0,964982706",          # 5 rating above the scale
        "1,2,0.0,964982707",          # 6 rating below the scale
        "1,2,3.3,964982708",          # 7 not a half star
        "1,3,4.0,964982709",          # 8 movie 3 has no tmdb id
        "1,99,4.0,964982710",         # 9 movie 99 not in links
        "2,1,3.0,100",                # 10 user 2, tmdb 862 (older)
        "2,4,5.0,200",                # 11 user 2, movie 4 → tmdb 862 too (newer: kept)
        "1,2,4.5,964982711,extra",    # 12 wrong number of fields
        "1,2,4.5,abc",                # 13 timestamp not a number
        "0,2,4.5,964982712",          # 14 userId out of range
    ]) + "\n")
    links = write(tmp_path / "links.csv", LINKS)
    cleaned = clean_ratings(read_ratings(ratings), movie_key_map(read_links(links)))

    assert quarantined(cleaned) == [
        (3, "rating", rating_cleaning.MISSING),
        (4, "userId", rating_cleaning.NOT_A_NUMBER),
        (5, "rating", rating_cleaning.OUT_OF_RANGE),
        (6, "rating", rating_cleaning.OUT_OF_RANGE),
        (7, "rating", rating_cleaning.NOT_HALF_STAR),
        (8, "movieId", rating_cleaning.NO_TMDB_ID),
        (9, "movieId", rating_cleaning.NO_TMDB_ID),
        (10, "movieId", rating_cleaning.DUPLICATE),
        (12, None, "wrong number of fields (5, expected 4)"),
        (13, "timestamp", rating_cleaning.NOT_A_NUMBER),
        (14, "userId", rating_cleaning.OUT_OF_RANGE),
    ]
    assert cleaned.quarantine.column("raw").to_pylist()[0] == "1,2,,964982704"
    rows = cleaned.table.to_pylist()
    assert [(r["user_id"], r["tmdb_id"], r["rating"]) for r in rows] == [(1, 862, 4.0), (2, 862, 5.0)]
    assert cleaned.table.schema == rating_cleaning.CLEAN_RATINGS_SCHEMA
    # nothing lost: every data line is either clean or quarantined
    assert cleaned.table.num_rows + cleaned.quarantine.num_rows == 13


def test_a_links_row_with_an_unusable_tmdb_id_quarantines_its_ratings(tmp_path):
    ratings = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,5,2.5,2\n1,6,3.0,3\n")
    links = write(tmp_path / "links.csv", LINKS + "5,0000005,0\n6,0000006,3000000000\n")  # zero, above int32
    cleaned = clean_ratings(read_ratings(ratings), movie_key_map(read_links(links)))
    assert cleaned.table.column("tmdb_id").to_pylist() == [862]
    assert quarantined(cleaned) == [(3, "movieId", rating_cleaning.NO_TMDB_ID), (4, "movieId", rating_cleaning.NO_TMDB_ID)]


def test_without_links_the_movielens_id_is_the_key(tmp_path):
    ratings = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,3,4.0,1\n1,5,2.5,2\n")
    cleaned = clean_ratings(read_ratings(ratings), None)
    assert cleaned.table.column("tmdb_id").to_pylist() == [3, 5]
    assert cleaned.quarantine.num_rows == 0


def test_classic_movielens_layouts(tmp_path):
    ml100k = tmp_path / "ml-100k"
    ml100k.mkdir()
    write(ml100k / "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t9\t878887116\n")
    flags = ["0"] * 19
    flags[3] = flags[4] = "1"  # Animation, Children
    (ml100k / "u.item").write_bytes(("242|Kolya (1996)|24-Jan-1997||http://x|" + "|".join(flags) + "\n").encode("latin-1"))
    ratings = clean_ratings(read_ratings(find_input(ml100k, "ratings")), None)
    assert ratings.table.num_rows == 2 and quarantined(ratings) == [(3, "rating", rating_cleaning.OUT_OF_RANGE)]
    movies = movies_from_movielens(MovieLensIndex(read_movielens_movies(find_input(ml100k, "movies")), None))
    assert movies.table.to_pylist()[0]["genres"] == ["Animation", "Family"]
    assert movies.table.to_pylist()[0]["year"] == 1996

    ml1m = tmp_path / "ml-1m"
    ml1m.mkdir()
    write(ml1m / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n1::914\n")
    (ml1m / "movies.dat").write_bytes("1193::Amélie (2001)::Comedy|Romance\n661::Matrix, The (1999)::Sci-Fi\n".encode("latin-1"))
    ratings = clean_ratings(read_ratings(find_input(ml1m, "ratings")), None)
    assert ratings.table.num_rows == 2
    assert quarantined(ratings) == [(3, None, "wrong number of fields (2, expected 4)")]
    movies = movies_from_movielens(MovieLensIndex(read_movielens_movies(find_input(ml1m, "movies")), None))
    titles = {row["tmdb_id"]: (row["title"], row["genres"]) for row in movies.table.to_pylist()}
    assert titles == {661: ("The Matrix", ["Science Fiction"]), 1193: ("Amélie", ["Comedy", "Romance"])}


def test_gzip_variants_are_found_and_read():
    path = find_input(SAMPLE_DIR, "ratings")
    assert path.name == "ratings.csv.gz"
    assert read_ratings(path).table.num_rows == 100_836


def test_a_ratings_file_without_the_expected_columns_names_the_file(tmp_path):
    bad = write(tmp_path / "ratings.csv", "user,item,score\n1,2,3\n")
    with pytest.raises(InputError, match="ratings.csv"):
        read_ratings(bad)


TMDB_HEADER = ",".join(f'"{c}"' for c in movie_cleaning.TMDB_COLUMNS)


def tmdb_row(**values) -> str:
    defaults = {"id": "1", "title": "A", "vote_count": "10", "adult": "False", "runtime": "90", "budget": "0",
                "release_date": "1999-03-31", "genres": "Action, Science Fiction"}
    defaults.update(values)
    return ",".join('"' + defaults.get(c, "").replace('"', '""') + '"' for c in movie_cleaning.TMDB_COLUMNS)


@pytest.mark.parametrize("text", [
    "", "a", "a\n", "a\nb", "a\r\nb\r\n", "a\rb\r", "\n\n\r\r\n", 'x,"multi\nline\r\nfield"\ny\n',
    "no break\u2028in\u2029unicode\x0bor\x0c\x1c\x85\n", "bad \udc80 bytes\r\n\r",
])
def test_text_lines_are_the_lines_of_a_newline_free_stringio(text):
    # the CSV reader's line numbers, and so every quarantine's line, come from these lines
    assert list(text_lines(text)) == list(io.StringIO(text, newline=""))


def test_tmdb_rows_are_typed_and_bad_ones_quarantined(tmp_path):
    lines = [
        TMDB_HEADER,
        tmdb_row(id="603", title="The Matrix", vote_count="100", keywords="dystopia, hacker", overview="multi\nline"),
        tmdb_row(id="603", title="The Matrix (dup)", vote_count="5"),
        tmdb_row(id="7", title="Adult", adult="True"),
        tmdb_row(id="", title="No id"),
        tmdb_row(id="x9", title="Bad id"),
        tmdb_row(id="8", title=""),
        '"9","short row"',
        tmdb_row(id="10", title="Zeros", runtime="0", budget="0", revenue="0", release_date="bad", vote_count="n/a"),
    ]
    path = write(tmp_path / "TMDB_movie_dataset_v11.csv", "\n".join(lines) + "\n")
    cleaned = clean_tmdb(read_tmdb(path), None)
    # the first record spans lines 2-3 (a newline inside the overview), so later records start one line down
    assert quarantined(cleaned) == [
        (4, "id", movie_cleaning.DUPLICATE_ID),
        (5, "adult", movie_cleaning.ADULT),
        (6, "id", movie_cleaning.MISSING),
        (7, "id", movie_cleaning.NOT_A_NUMBER),
        (8, "title", movie_cleaning.MISSING),
        (9, None, "wrong number of fields (2, expected 24)"),
    ]
    rows = {row["tmdb_id"]: row for row in cleaned.table.to_pylist()}
    assert sorted(rows) == [10, 603]
    matrix = rows[603]
    assert matrix["title"] == "The Matrix" and matrix["vote_count"] == 100
    assert matrix["genres"] == ["Action", "Science Fiction"] and matrix["keywords"] == ["dystopia", "hacker"]
    assert str(matrix["release_date"]) == "1999-03-31" and matrix["year"] == 1999
    assert matrix["budget"] is None and matrix["runtime"] == 90 and matrix["tagline"] == ""
    zeros = rows[10]
    assert zeros["runtime"] is None and zeros["revenue"] is None and zeros["release_date"] is None
    assert zeros["vote_count"] == 0
    assert cleaned.extra["invalid_values_nulled"] == {"vote_count": 1, "release_date": 1}


def test_the_genuinely_truncated_tmdb_file_quarantines_its_last_row(tmp_path):
    path = tmp_path / "TMDB_movie_dataset_v11.csv"
    path.write_bytes(gzip.decompress((TEST_DATA / "TMDB_movie_dataset_v11_head2632_truncated.csv.gz").read_bytes()))
    cleaned = clean_tmdb(read_tmdb(path), None)
    assert quarantined(cleaned) == [(2632, None, movie_cleaning.TRUNCATED)]
    assert cleaned.quarantine.column("raw").to_pylist()[0].startswith('"34647","Enter the Void"')
    assert cleaned.table.num_rows == 2630
    assert 34647 not in cleaned.table.column("tmdb_id").to_pylist()


def test_movielens_titles_and_ids_are_attached_through_links(tmp_path):
    links = read_links(write(tmp_path / "links.csv", LINKS))
    movies = read_movielens_movies(write(tmp_path / "movies.csv", 'movieId,title,genres\n1,Toy Story (1995),Animation\n4,"Toy, Story (1995)",Comedy\n'))
    index = MovieLensIndex(movies, movie_key_map(links))
    path = write(tmp_path / "TMDB_movie_dataset_v11.csv", TMDB_HEADER + "\n" + tmdb_row(id="862", title="Toy Story") + "\n")
    row = clean_tmdb(read_tmdb(path), index).table.to_pylist()[0]
    assert row["movielens_title"] == "Toy Story (1995)" and row["movielens_ids"] == [1, 4]


@pytest.mark.parametrize("title, expected", [
    ("Matrix, The (1999)", ("The Matrix", 1999)),
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", ("The City of Lost Children (Cité des enfants perdus, La)", 1995)),
    ("Babylon 5", ("Babylon 5", None)),
    ("Shawshank Redemption, The (1994)", ("The Shawshank Redemption", 1994)),
])
def test_split_movielens_title(title, expected):
    assert split_movielens_title(title) == expected


def test_quarantine_preserves_every_input_row_of_the_sample():
    raw = read_ratings(find_input(SAMPLE_DIR, "ratings"))
    cleaned = clean_ratings(raw, movie_key_map(read_links(find_input(SAMPLE_DIR, "links"))))
    assert cleaned.table.num_rows == 100_822
    assert cleaned.counts == {rating_cleaning.NO_TMDB_ID: 13, rating_cleaning.DUPLICATE: 1}
    assert cleaned.table.num_rows + cleaned.quarantine.num_rows == raw.table.num_rows == 100_836
    assert pa.types.is_timestamp(cleaned.table.schema.field("rated_at").type)
