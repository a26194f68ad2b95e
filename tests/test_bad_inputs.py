"""The bad-input corpus: damaged copies of the bundled sample files, made in tmp_path, through the cleaning functions.

Every case asserts the exact outcome: the rows kept, the rows quarantined (line, field, reason), the values nulled
per field, or a one-line InputError naming the file (and line and field where there is one). Items refer to issue 12.
The bundled sample is clean (100,822 of 100,836 ratings kept: 13 without a TMDB id, 1 duplicate; all 13,830 TMDB
rows kept), so each case states its outcome as that baseline plus what the damage does.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from spin_reel_assets.cleaning import fields
from spin_reel_assets.cleaning import movies as m
from spin_reel_assets.cleaning import ratings as r
from spin_reel_assets.cleaning.inputs import RAW_LIMIT, InputError, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, movies_from_movielens, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map

from .conftest import SAMPLE_DIR

TMDB = "TMDB_movie_dataset_v11.csv"
KEPT, RATINGS_ROWS, TMDB_ROWS, MOVIES_ROWS = 100_822, 100_836, 13_830, 9_742
BASELINE_COUNTS = {r.NO_TMDB_ID: 13, r.DUPLICATE: 1}


def sample_bytes(name: str) -> bytes:
    return gzip.decompress((SAMPLE_DIR / f"{name}.gz").read_bytes())


def sample_lines(name: str) -> list[str]:
    """The sample file's lines without their endings (the MovieLens files are CRLF, the TMDB file LF)."""
    return sample_bytes(name).decode("utf-8").replace("\r\n", "\n").rstrip("\n").split("\n")


def write_lines(path: Path, lines: list[str], eol: str = "\r\n") -> Path:
    path.write_bytes((eol.join(lines) + eol).encode("utf-8"))
    return path


def tmdb_records() -> list[list[str]]:
    return list(csv.reader(io.StringIO(sample_bytes(TMDB).decode("utf-8"), newline="")))


def write_tmdb(path: Path, records: list[list[str]], eol: str = "\n") -> Path:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=eol).writerows(records)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def col(name: str) -> int:
    return m.TMDB_COLUMNS.index(name)


def quarantined(cleaned) -> list[tuple]:
    return [(row["line"], row["field"], row["reason"]) for row in cleaned.quarantine.to_pylist()]


def new_quarantine(cleaned, baseline) -> list[tuple]:
    """The quarantine minus the sample's own 14 rows."""
    known = set(quarantined(baseline["ratings"]))
    return [q for q in quarantined(cleaned) if q not in known]


def clean_sample_ratings(path: Path, links: Path | None = None):
    return clean_ratings(read_ratings(path), movie_key_map(read_links(links or SAMPLE_DIR / "links.csv.gz")))


def assert_one_line_error(error: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture(scope="module")
def baseline():
    return {"ratings": clean_sample_ratings(SAMPLE_DIR / "ratings.csv.gz"), "tmdb": clean_tmdb(read_tmdb(SAMPLE_DIR / f"{TMDB}.gz"), None)}


def test_the_baseline_is_the_clean_sample(baseline):
    assert baseline["ratings"].table.num_rows == KEPT and baseline["ratings"].counts == BASELINE_COUNTS
    assert baseline["tmdb"].table.num_rows == TMDB_ROWS and baseline["tmdb"].quarantine.num_rows == 0
    assert baseline["tmdb"].extra == {"invalid_values_nulled": {}, "missing_columns": []}


# --- items 1, 2, 8: values beyond what a store holds ----------------------------------------------------------------


@pytest.mark.parametrize("field, value, reason", [
    ("userId", "9" * 20, r.OUT_OF_RANGE),                # int64 overflow before
    ("userId", "2147483648", r.OUT_OF_RANGE),            # PostgreSQL integer + 1
    ("movieId", "9" * 20, r.OUT_OF_RANGE),
    ("timestamp", "9" * 20, r.OUT_OF_RANGE),
    ("timestamp", "10000000000000", r.OUT_OF_RANGE),     # 1e13 s: item 2, out of bounds for microseconds
    ("timestamp", "253402300800", r.OUT_OF_RANGE),       # year 10000
    ("timestamp", "-1", r.NOT_A_NUMBER),
    ("rating", "1e3", r.NOT_A_NUMBER),
    ("rating", "inf", r.NOT_A_NUMBER),
    ("rating", "nan", r.NOT_A_NUMBER),
    ("rating", "", r.MISSING),
])
def test_a_rating_value_no_store_can_hold_is_quarantined_with_line_and_field(tmp_path, baseline, field, value, reason):
    lines = sample_lines("ratings.csv")
    values = dict(zip(r.RATINGS_FIELDS, lines[1].split(",")))
    values[field] = value
    lines[1] = ",".join(values[name] for name in r.RATINGS_FIELDS)
    cleaned = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", lines))
    assert new_quarantine(cleaned, baseline) == [(2, field, reason)]
    assert cleaned.table.num_rows == KEPT - 1
    assert cleaned.quarantine.column("raw").to_pylist()[0] == lines[1]


def test_the_last_storable_second_and_an_integral_float_id_are_kept(tmp_path, baseline):
    lines = sample_lines("ratings.csv")
    lines[1] = "1,1.0,4.0,253402300799"  # 9999-12-31T23:59:59, movieId written as a float
    cleaned = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", lines))
    assert cleaned.table.num_rows == KEPT and cleaned.counts == BASELINE_COUNTS
    first = cleaned.table.slice(0, 1).to_pylist()[0]
    assert first["rated_at"] == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc) and first["tmdb_id"] == 862


@pytest.mark.parametrize("column, value, expected", [
    ("release_date", "2020-13-45", None),   # item 1: ArrowInvalid before
    ("release_date", "2021-02-29", None),   # no 29 February in 2021 (a parser would make it 1 March)
    ("release_date", "0001-01-01", None),   # placeholder year
    ("runtime", "99999999999", None),       # int32 overflow before
    ("runtime", "-90", None),
    ("budget", "9" * 20, None),             # int64 overflow before
    ("revenue", "9007199254740992", None),  # 2^53: no JSON client reads it exactly
    ("vote_average", "1e999", None),        # +inf: invalid JSON in the web API (item 8)
    ("vote_average", "11", None),
    ("popularity", "Infinity", None),
    ("popularity", "NaN", None),
    ("vote_count", "9" * 20, 0),            # no count: no votes
])
def test_an_impossible_optional_tmdb_value_is_nulled_and_counted(tmp_path, column, value, expected):
    records = tmdb_records()
    records[1][col(column)] = value  # Inception, line 2
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert cleaned.quarantine.num_rows == 0 and cleaned.table.num_rows == TMDB_ROWS
    assert cleaned.extra["invalid_values_nulled"] == {column: 1}
    inception = cleaned.table.slice(0, 1).to_pylist()[0]
    assert inception["tmdb_id"] == 27205 and inception[column] == expected
    if column == "release_date":
        assert inception["year"] is None


@pytest.mark.parametrize("value, reason", [
    ("9" * 20, m.OUT_OF_RANGE), ("2147483648", m.OUT_OF_RANGE), ("0", m.OUT_OF_RANGE), ("27205.5", m.NOT_A_NUMBER),
    ("", m.MISSING),
])
def test_a_tmdb_id_outside_postgresql_integer_quarantines_the_movie(tmp_path, value, reason):
    records = tmdb_records()
    records[1][col("id")] = value
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert quarantined(cleaned) == [(2, "id", reason)]
    assert cleaned.table.num_rows == TMDB_ROWS - 1


def test_the_largest_postgresql_id_and_an_integral_float_id_are_kept(tmp_path):
    records = tmdb_records()
    records[1][col("id")], records[2][col("id")] = "2147483647", "157336.0"
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert cleaned.quarantine.num_rows == 0
    assert cleaned.table.column("tmdb_id").to_pylist()[:2] == [2147483647, 157336]


def test_a_nul_in_a_title_quarantines_and_in_an_overview_nulls(tmp_path):
    records = tmdb_records()
    records[1][col("title")] = "Incep\x00tion"
    records[2][col("overview")] = "A NUL \x00 here"
    records[3][col("genres")] = "Drama, \x00"
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert quarantined(cleaned) == [(2, "title", fields.NUL)]
    assert cleaned.extra["invalid_values_nulled"] == {"overview": 1, "genres": 1}
    rows = cleaned.table.slice(0, 2).to_pylist()
    assert (rows[0]["title"], rows[0]["overview"]) == ("Interstellar", "")
    assert rows[1]["genres"] == []
    assert not any("\x00" in t for t in cleaned.table.column("title").to_pylist())


def test_a_nul_in_a_movielens_title_quarantines_it(tmp_path):
    lines = sample_lines("movies.csv")
    lines[1] = "1,Toy Story\x00 (1995),Animation"
    index = MovieLensIndex(read_movielens_movies(write_lines(tmp_path / "movies.csv", lines)), None)
    assert quarantined_index(index) == [(2, "title", fields.NUL)]
    assert 1 not in index.title_by_key and len(index.title_by_key) == MOVIES_ROWS - 1


def quarantined_index(index: MovieLensIndex) -> list[tuple]:
    return [(row["line"], row["field"], row["reason"]) for row in index.quarantine.to_pylist()]


# --- item 3: a truncated or corrupt .gz -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, reader", [
    ("ratings.csv", read_ratings), ("links.csv", read_links), ("movies.csv", read_movielens_movies), (TMDB, read_tmdb),
])
def test_a_truncated_gzip_file_is_one_line_naming_it(tmp_path, name, reader):
    data = (SAMPLE_DIR / f"{name}.gz").read_bytes()
    path = tmp_path / f"{name}.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as error:
        reader(path)
    assert_one_line_error(error, path, "gzip stream is truncated or corrupt")


def test_a_corrupt_gzip_file_is_one_line_naming_it(tmp_path):
    data = bytearray((SAMPLE_DIR / "ratings.csv.gz").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path = tmp_path / "ratings.csv.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as error:
        read_ratings(path)
    assert_one_line_error(error, path, "gzip stream is truncated or corrupt")


# --- item 4: what is actually wrong with a file that cannot be read ------------------------------------------------


def _replace_delimiter(lines, delimiter):
    return [line.replace(",", delimiter) for line in lines]


@pytest.mark.parametrize("name, damage, fragment", [
    ("ratings.csv", lambda lines: _replace_delimiter(lines, ";"), "line 1: fields are separated by ';', expected ','"),
    ("ratings.csv", lambda lines: _replace_delimiter(lines, "\t"), "line 1: fields are separated by tabs, expected ','"),
    ("ratings.csv", lambda lines: lines[1:], "line 1: no header row (line 1 is data: '1,1,4.0,964982703')"),
    ("ratings.csv", lambda lines: ["userId,movieId,score,timestamp"] + lines[1:], "line 1: field rating: the header lacks column(s) rating"),
    ("links.csv", lambda lines: _replace_delimiter(lines, "|"), "fields are separated by '|'"),
    ("links.csv", lambda lines: ["movieId,imdbId"] + lines[1:], "field tmdbId: the header lacks column(s) tmdbId"),
    ("movies.csv", lambda lines: lines[1:], "line 1: no header row"),
    ("movies.csv", lambda lines: _replace_delimiter(lines, ";"), "separated by ';'"),
])
def test_a_file_that_cannot_be_read_says_why(tmp_path, name, damage, fragment):
    path = write_lines(tmp_path / name, damage(sample_lines(name)))
    reader = {"ratings.csv": read_ratings, "links.csv": read_links, "movies.csv": read_movielens_movies}[name]
    with pytest.raises(InputError) as error:
        reader(path)
    assert_one_line_error(error, path, fragment)


def test_a_tab_separated_tmdb_file_and_one_without_a_title_column_say_why(tmp_path):
    records = tmdb_records()
    path = tmp_path / TMDB
    path.write_text("\n".join("\t".join(record) for record in records[:50]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_tmdb(path)
    assert_one_line_error(error, path, "line 1: fields are separated by tabs, expected ','")
    write_tmdb(path, [[value for i, value in enumerate(record) if i != col("title")] for record in records[:50]])
    with pytest.raises(InputError) as error:
        read_tmdb(path)
    assert_one_line_error(error, path, "line 1: field title: the header lacks column(s) title")


@pytest.mark.parametrize("name, reader", [("ratings.csv", read_ratings), ("movies.csv", read_movielens_movies), (TMDB, read_tmdb)])
def test_compressed_bytes_under_a_plain_name_say_so(tmp_path, name, reader):
    path = tmp_path / name
    path.write_bytes((SAMPLE_DIR / f"{name}.gz").read_bytes())
    with pytest.raises(InputError) as error:
        reader(path)
    assert_one_line_error(error, path, "line 1: the content is gzip-compressed, not CSV text", f"name it {name}.gz")


# --- item 5: one undecodable byte touches one record ------------------------------------------------------------


def test_a_latin1_byte_quarantines_only_its_movielens_title(tmp_path):
    data = sample_bytes("movies.csv")
    amelie = "Amélie Poulain".encode("utf-8")
    assert data.count(amelie) == 1
    path = tmp_path / "movies.csv"
    path.write_bytes(data.replace(amelie, "Amélie Poulain".encode("latin-1")))
    line = data[: data.index(amelie)].count(b"\n") + 1
    index = MovieLensIndex(read_movielens_movies(path), None)
    assert quarantined_index(index) == [(line, "title", fields.NOT_UTF8)]
    assert "Am\\xe9lie" in index.quarantine.column("raw").to_pylist()[0]
    assert index.title_by_key[60069] == "WALL·E (2008)"  # the rest of the file is still UTF-8
    assert len(index.title_by_key) == MOVIES_ROWS - 1
    assert movies_from_movielens(index).quarantine.num_rows == 1


def test_a_bad_byte_in_a_tmdb_title_quarantines_it_and_in_an_overview_nulls_it(tmp_path, baseline):
    records = tmdb_records()
    records[71 - 1][col("overview")] += "@BAD@"     # WALL·E, line 71
    records[1][col("title")] = "Inception@BAD@"     # line 2
    path = write_tmdb(tmp_path / TMDB, records)
    path.write_bytes(path.read_bytes().replace(b"@BAD@", b"\xff"))
    cleaned = clean_tmdb(read_tmdb(path), None)
    assert quarantined(cleaned) == [(2, "title", fields.NOT_UTF8)]
    assert cleaned.quarantine.column("raw").to_pylist() == ["27205,Inception\\xff"]
    assert cleaned.extra["invalid_values_nulled"] == {"overview": 1}
    titles = cleaned.table.column("title").to_pylist()
    assert titles == baseline["tmdb"].table.column("title").to_pylist()[1:]  # nothing garbled: "WALL·E", not "WALLÂ·E"
    wall_e = cleaned.table.filter(np.array(cleaned.table.column("tmdb_id").to_numpy() == 10681)).to_pylist()[0]
    assert wall_e["title"] == "WALL·E" and wall_e["overview"] == ""


# --- items 6, 7: links.csv --------------------------------------------------------------------------------------------


def test_a_conflicting_links_mapping_is_quarantined_not_last_one_wins(tmp_path, baseline):
    lines = sample_lines("links.csv")
    links = write_lines(tmp_path / "links.csv", lines + ["1,0114709,9999"])
    key_map = movie_key_map(read_links(links))
    assert key_map.conflicts == {1: [862, 9999]} and 1 not in key_map
    assert [(q["line"], q["field"], q["reason"]) for q in key_map.quarantine.to_pylist()] == [
        (2, "tmdbId", r.CONFLICTING_LINK), (len(lines) + 1, "tmdbId", r.CONFLICTING_LINK)]
    cleaned = clean_sample_ratings(SAMPLE_DIR / "ratings.csv.gz", links)
    toy_story = 215  # ratings of movieId 1 in the sample
    assert cleaned.counts == {**BASELINE_COUNTS, r.CONFLICTING_LINK: toy_story}
    assert cleaned.table.num_rows == KEPT - toy_story
    assert 862 not in set(cleaned.table.column("tmdb_id").to_pylist()) and 9999 not in set(cleaned.table.column("tmdb_id").to_pylist())
    assert cleaned.extra["links_conflicting_movie_ids"] == 1
    index = MovieLensIndex(read_movielens_movies(SAMPLE_DIR / "movies.csv.gz"), key_map)
    assert 862 not in index.ids_by_key and 9999 not in index.ids_by_key  # no document claims movieId 1


def test_a_repeated_identical_links_row_is_no_conflict(tmp_path, baseline):
    lines = sample_lines("links.csv")
    cleaned = clean_sample_ratings(SAMPLE_DIR / "ratings.csv.gz", write_lines(tmp_path / "links.csv", lines + [lines[1]]))
    assert cleaned.table.equals(baseline["ratings"].table)


def test_integral_float_tmdb_ids_are_valid_for_a_whole_file(tmp_path, baseline):
    lines = sample_lines("links.csv")
    floats = [lines[0]] + [line + ".0" if not line.endswith(",") else line for line in lines[1:]]  # pandas' output
    links = write_lines(tmp_path / "links.csv", floats)
    cleaned = clean_sample_ratings(SAMPLE_DIR / "ratings.csv.gz", links)
    assert cleaned.table.equals(baseline["ratings"].table) and cleaned.counts == BASELINE_COUNTS
    assert dict(movie_key_map(read_links(links))) == dict(movie_key_map(read_links(SAMPLE_DIR / "links.csv.gz")))


def test_a_fractional_tmdb_id_is_reported_and_its_ratings_quarantined(tmp_path):
    lines = sample_lines("links.csv")
    lines[1] = "1,0114709,862.5"
    links = write_lines(tmp_path / "links.csv", lines)
    key_map = movie_key_map(read_links(links))
    assert [(q["line"], q["field"], q["reason"]) for q in key_map.quarantine.to_pylist()] == [(2, "tmdbId", r.NOT_A_NUMBER)]
    cleaned = clean_sample_ratings(SAMPLE_DIR / "ratings.csv.gz", links)
    assert cleaned.counts == {r.NO_TMDB_ID: 13 + 215, r.DUPLICATE: 1}
    assert cleaned.extra["links_rows_unmapped"] == {r.NOT_A_NUMBER: 1}


# --- items 9, 10: long fields, partial TMDB headers -----------------------------------------------------------------


@pytest.mark.parametrize("length", [131_073, 10 << 20])  # one past Python csv's default limit; a 10 MB line
def test_a_long_overview_is_kept_whole(tmp_path, length):
    records = tmdb_records()
    records[1][col("overview")] = "x" * length
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert cleaned.quarantine.num_rows == 0 and cleaned.table.num_rows == TMDB_ROWS
    assert len(cleaned.table.column("overview")[0].as_py()) == length


def test_a_record_too_large_for_a_mongodb_document_is_quarantined(tmp_path):
    records = tmdb_records()
    records[1][col("overview")] = "x" * (17 << 20)
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert quarantined(cleaned) == [(2, None, m.TOO_LARGE)]
    assert cleaned.table.num_rows == TMDB_ROWS - 1


def test_a_tmdb_file_with_only_some_v11_columns_is_accepted(tmp_path, baseline):
    keep = ["id", "title", "genres", "release_date", "overview"]
    records = tmdb_records()
    path = write_tmdb(tmp_path / TMDB, [[record[col(name)] for name in keep] for record in records])
    cleaned = clean_tmdb(read_tmdb(path), None)
    assert cleaned.extra["missing_columns"] == [name for name in m.TMDB_COLUMNS if name not in keep]
    assert cleaned.quarantine.num_rows == 0 and cleaned.table.num_rows == TMDB_ROWS
    for name in ("tmdb_id", "title", "genres", "release_date", "overview"):
        assert cleaned.table.column(name).equals(baseline["tmdb"].table.column(name))
    assert set(cleaned.table.column("vote_count").to_pylist()) == {0}
    assert cleaned.table.column("runtime").null_count == TMDB_ROWS and cleaned.table.column("keywords").to_pylist()[0] == []


# --- the classics ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, reader", [
    ("ratings.csv", read_ratings), ("links.csv", read_links), ("movies.csv", read_movielens_movies), (TMDB, read_tmdb),
])
def test_an_empty_file_is_one_line_naming_it(tmp_path, name, reader):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError) as error:
        reader(path)
    assert_one_line_error(error, path, "line 1: the file is empty")


def test_a_header_only_file_cleans_to_nothing(tmp_path):
    ratings = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", sample_lines("ratings.csv")[:1]))
    assert ratings.table.num_rows == 0 and ratings.quarantine.num_rows == 0
    tmdb = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, tmdb_records()[:1])), None)
    assert tmdb.table.num_rows == 0 and tmdb.quarantine.num_rows == 0


def test_a_byte_order_mark_changes_nothing(tmp_path, baseline):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"\xef\xbb\xbf" + sample_bytes("ratings.csv"))
    assert clean_sample_ratings(path).table.equals(baseline["ratings"].table)
    path = tmp_path / TMDB
    path.write_bytes(b"\xef\xbb\xbf" + sample_bytes(TMDB))
    assert clean_tmdb(read_tmdb(path), None).table.equals(baseline["tmdb"].table)
    path = tmp_path / "movies.csv"
    path.write_bytes(b"\xef\xbb\xbf" + sample_bytes("movies.csv"))
    assert len(MovieLensIndex(read_movielens_movies(path), None).title_by_key) == MOVIES_ROWS


def test_line_endings_change_nothing(tmp_path, baseline):
    # the MovieLens sample is CRLF, the TMDB sample LF: each the other way round
    lf = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", sample_lines("ratings.csv"), eol="\n"))
    assert lf.table.equals(baseline["ratings"].table) and quarantined(lf) == quarantined(baseline["ratings"])
    crlf = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, tmdb_records(), eol="\r\n")), None)
    assert crlf.table.equals(baseline["tmdb"].table)


def test_quoted_newlines_keep_the_line_numbers_of_later_records(tmp_path):
    records = tmdb_records()
    records[1][col("overview")] = "two\nlines\r\nand three"   # Inception spans lines 2-4
    records[2][col("id")] = "x"                                # Interstellar starts on line 5
    cleaned = clean_tmdb(read_tmdb(write_tmdb(tmp_path / TMDB, records)), None)
    assert quarantined(cleaned) == [(5, "id", m.NOT_A_NUMBER)]
    assert cleaned.table.column("overview")[0].as_py() == "two\nlines\r\nand three"

    lines = sample_lines("ratings.csv")
    lines[1] = '1,1,"4.0\nx",964982703'  # a quoted newline in a rating: lines 2-3
    lines[8] = "1,x,4.0,964982703"      # then line 10, not 9
    cleaned = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", lines, eol="\n"))
    assert [q for q in quarantined(cleaned) if q[0] < 20] == [(2, "rating", r.NOT_A_NUMBER), (10, "movieId", r.NOT_A_NUMBER)]


def test_a_10_mb_ratings_line_is_quarantined_with_a_bounded_excerpt(tmp_path, baseline):
    lines = sample_lines("ratings.csv")
    lines[1] = "1,1,4.0," + "9" * (10 << 20)
    lines[2] = "x" * (10 << 20)
    cleaned = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", lines))
    assert new_quarantine(cleaned, baseline) == [(2, "timestamp", r.OUT_OF_RANGE), (3, None, "wrong number of fields (1, expected 4)")]
    assert all(len(raw) <= RAW_LIMIT + 1 for raw in cleaned.quarantine.column("raw").to_pylist())
    assert cleaned.table.num_rows == KEPT - 2


def test_five_percent_bad_rows_mixed_in_are_each_quarantined_with_their_reason(tmp_path, baseline):
    lines = sample_lines("ratings.csv")
    spared = set(baseline["ratings"].quarantine.column("line").to_pylist()) | {
        i + 1 for i, line in enumerate(lines) if line.startswith("111,")}  # the user with the sample's duplicate pair
    damages = [
        (lambda u, mv, rt, ts: f"{u},{mv},,{ts}", "rating", r.MISSING),
        (lambda u, mv, rt, ts: f"abc,{mv},{rt},{ts}", "userId", r.NOT_A_NUMBER),
        (lambda u, mv, rt, ts: f"{u},{mv},7.0,{ts}", "rating", r.OUT_OF_RANGE),
        (lambda u, mv, rt, ts: f"{u},{mv},3.3,{ts}", "rating", r.NOT_HALF_STAR),
        (lambda u, mv, rt, ts: f"{u},{mv},{rt},10000000000000", "timestamp", r.OUT_OF_RANGE),
        (lambda u, mv, rt, ts: f"{u},2147483648,{rt},{ts}", "movieId", r.OUT_OF_RANGE),
        (lambda u, mv, rt, ts: f"{u},{mv},{rt},{ts},extra", None, "wrong number of fields (5, expected 4)"),
        (lambda u, mv, rt, ts: f"{u},{mv}\x00,{rt},{ts}", "movieId", r.NOT_A_NUMBER),
    ]
    expected, damaged = [], 0
    for number in range(2, len(lines) + 1, 20):  # every 20th data line: 5 %
        if number in spared:
            continue
        damage, field, reason = damages[damaged % len(damages)]
        lines[number - 1] = damage(*lines[number - 1].split(","))
        expected.append((number, field, reason))
        damaged += 1
    cleaned = clean_sample_ratings(write_lines(tmp_path / "ratings.csv", lines))
    assert 0.049 < damaged / RATINGS_ROWS < 0.051
    assert sorted(set(quarantined(cleaned)) - set(quarantined(baseline["ratings"]))) == expected
    assert cleaned.table.num_rows == KEPT - damaged
    assert cleaned.table.num_rows + cleaned.quarantine.num_rows == RATINGS_ROWS
