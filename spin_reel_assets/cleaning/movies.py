"""Cleaning movie metadata: TMDB v11 rows into typed columns, with the MovieLens titles and ids attached.

When there is no TMDB file, the MovieLens titles and genres become the movie metadata, so the graph still runs.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spin_reel_assets.schema import MOVIE_ID, TMDB_LIST_FIELDS

from .inputs import InputError, RawRows, decode, read_bytes
from .quarantine import Cleaned, Quarantine

TMDB_COLUMNS = (
    "id", "title", "vote_average", "vote_count", "status", "release_date", "revenue", "runtime", "adult",
    "backdrop_path", "budget", "homepage", "imdb_id", "original_language", "original_title", "overview",
    "popularity", "poster_path", "tagline", "genres", "production_companies", "production_countries",
    "spoken_languages", "keywords",
)
TEXT_FIELDS = ("title", "original_title", "overview", "tagline")  # empty string when missing
OPTIONAL_STRINGS = ("status", "backdrop_path", "homepage", "imdb_id", "original_language", "poster_path")
POSITIVE_INTS = ("runtime", "budget", "revenue")  # 0 in TMDB means unknown

# MovieLens genre names → TMDB genre names, for metadata built from MovieLens alone.
MOVIELENS_TO_TMDB_GENRES = {
    "Children": "Family", "Children's": "Family", "Sci-Fi": "Science Fiction", "Musical": "Music",
    "Film-Noir": "Crime", "(no genres listed)": None, "IMAX": None,
}

CLEAN_MOVIES_SCHEMA = pa.schema(
    [
        (MOVIE_ID, pa.int64()), ("title", pa.string()), ("original_title", pa.string()), ("overview", pa.string()),
        ("tagline", pa.string()), ("release_date", pa.date32()), ("year", pa.int32()), ("runtime", pa.int32()),
        ("budget", pa.int64()), ("revenue", pa.int64()), ("vote_average", pa.float64()), ("vote_count", pa.int64()),
        ("popularity", pa.float64()), *((name, pa.string()) for name in OPTIONAL_STRINGS),
        *((name, pa.list_(pa.string())) for name in TMDB_LIST_FIELDS),
        ("movielens_title", pa.string()), ("movielens_ids", pa.list_(pa.int64())),
    ]
)

ADULT = "adult title excluded"
DUPLICATE_ID = "duplicate id: lower vote_count"
MISSING = "missing value"
NOT_A_NUMBER = "not a number"
TRUNCATED = "truncated row: file ends inside a quoted field"

_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
# "City of Lost Children, The (Cité des enfants perdus, La)": the article may precede an alternate title.
_TRAILING_ARTICLE = re.compile(r"^(.*?), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las)( \(.*\))?$")


def read_tmdb(path: Path) -> RawRows:
    """All TMDB columns as strings, one row per complete record; malformed records become bad lines.

    Python's csv reader in strict mode is used because it reports an unterminated quoted field (the genuine
    truncated Kaggle file ends inside one) where pyarrow would drop the last row without a word.
    """
    text = decode(read_bytes(path))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as error:
        raise InputError(f"{path}: line 1: no TMDB header ({error})") from error
    missing = [name for name in TMDB_COLUMNS if name not in header]
    if missing:
        raise InputError(f"{path}: line 1: header lacks the TMDB v11 columns {', '.join(missing)}")
    position = [header.index(name) for name in TMDB_COLUMNS]
    columns: list[list[str]] = [[] for _ in TMDB_COLUMNS]
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            at_end = "end of data" in str(error)
            reason = TRUNCATED if at_end else f"malformed CSV: {error}"
            bad.append((start, reason, _excerpt(text, start)))
            if at_end:
                break
            continue
        if len(row) != len(header):
            bad.append((start, f"wrong number of fields ({len(row)}, expected {len(header)})", ",".join(row)[:500]))
            continue
        for column, index in zip(columns, position):
            column.append(row[index])
        lines.append(start)
    table = pa.table({name: pa.array(values, pa.string()) for name, values in zip(TMDB_COLUMNS, columns)})
    return RawRows(table, np.array(lines, dtype=np.int64), bad)


def _excerpt(text: str, line: int) -> str:
    """The raw text from ``line`` on (bounded), for the quarantine."""
    lines = text.splitlines()
    return "\n".join(lines[line - 1 : line + 4])[:500]


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _split_list(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """"A, B, C" → ["A", "B", "C"]; empty → []."""
    parts = pc.split_pattern(_blank_to_null(column), ", ")
    return pc.fill_null(parts, pa.scalar([], pa.list_(pa.string())))


def _parse_numbers(table: pa.Table, name: str, kind: pa.DataType, pattern: str, invalid: dict[str, int]) -> pa.ChunkedArray:
    """Parse an optional numeric column; unparseable values become null and are counted per field."""
    column = _blank_to_null(table.column(name))
    valid = pc.match_substring_regex(column, pattern)
    bad = int(pc.sum(pc.invert(pc.fill_null(valid, True))).as_py() or 0)
    if bad:
        invalid[name] = bad
    return pc.cast(pc.if_else(valid, column, pa.scalar(None, pa.string())), kind)


def _movielens_columns(ids: np.ndarray, movielens: "MovieLensIndex | None"):
    if movielens is None:
        return pa.nulls(len(ids), pa.string()), pa.array([[] for _ in ids], pa.list_(pa.int64()))
    titles = [movielens.title_by_key.get(int(key)) for key in ids]
    movie_ids = [movielens.ids_by_key.get(int(key), []) for key in ids]
    return pa.array(titles, pa.string()), pa.array(movie_ids, pa.list_(pa.int64()))


class MovieLensIndex:
    """MovieLens titles and movieIds by canonical key (tmdb_id through links, else movieId)."""

    def __init__(self, movies: RawRows | None, key_map: dict[int, int] | None):
        self.ids_by_key: dict[int, list[int]] = {}
        self.title_by_key: dict[int, str] = {}
        self.genres_by_key: dict[int, str] = {}
        self.lines_by_key: dict[int, int] = {}
        titles: dict[int, tuple[str, str, int]] = {}
        if movies is not None:
            for movie_id, title, genres, line in zip(
                movies.table.column("movieId").to_pylist(), movies.table.column("title").to_pylist(),
                movies.table.column("genres").to_pylist(), movies.lines.tolist(),
            ):
                if movie_id and movie_id.strip().isdigit():
                    titles[int(movie_id)] = (title, genres, line)
        movie_ids = set(titles) | set(key_map or {})
        for movie_id in sorted(movie_ids):
            key = movie_id if key_map is None else key_map.get(movie_id)
            if key is None:
                continue
            self.ids_by_key.setdefault(key, []).append(movie_id)
            if movie_id in titles and key not in self.title_by_key:
                self.title_by_key[key], self.genres_by_key[key], self.lines_by_key[key] = titles[movie_id]


def clean_tmdb(raw: RawRows, movielens: MovieLensIndex | None) -> Cleaned:
    """Typed TMDB movies: lists as lists, dates as dates, zeros as unknown, adult titles and duplicate ids out."""
    table, lines = raw.table, raw.lines
    quarantine = Quarantine()
    for line, reason, text in raw.bad_lines:
        quarantine.add(line, None, reason, text)

    def raw_rows(mask: np.ndarray) -> np.ndarray:
        # late binding on purpose: ``table`` is the filtered table at the time of the call
        subset = table.filter(pa.array(mask))
        return np.asarray([f"{i},{t}" for i, t in zip(subset.column("id").to_pylist(), subset.column("title").to_pylist())], dtype=object)

    ok = np.ones(table.num_rows, dtype=bool)
    for name, pattern in (("id", r"^\s*\d+\s*$"), ("title", r"\S")):
        column = _blank_to_null(table.column(name))
        missing = pc.is_null(column).to_numpy(zero_copy_only=False)
        malformed = ~pc.fill_null(pc.match_substring_regex(column, pattern), True).to_numpy(zero_copy_only=False)
        for mask, reason in ((missing & ok, MISSING), (malformed & ok, NOT_A_NUMBER)):
            if mask.any():
                quarantine.add(lines[mask], name, reason, raw_rows(mask))
                ok &= ~mask
    adult = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(table.column("adult"))), "true").to_numpy(zero_copy_only=False)
    mask = adult & ok
    if mask.any():
        quarantine.add(lines[mask], "adult", ADULT, raw_rows(mask))
        ok &= ~mask

    table, lines = table.filter(pa.array(ok)), lines[ok]
    invalid: dict[str, int] = {}
    ids = pc.cast(pc.utf8_trim_whitespace(table.column("id")), pa.int64())
    vote_count = pc.fill_null(_parse_numbers(table, "vote_count", pa.int64(), r"^\d+$", invalid), 0)

    # One row per id: the one with the most votes (then the earliest line).
    id_np, votes_np = ids.to_numpy(), vote_count.to_numpy()
    order = np.lexsort((lines, -votes_np, id_np))
    first = np.ones(len(order), dtype=bool)
    first[1:] = id_np[order][1:] != id_np[order][:-1]
    duplicate = np.zeros(len(order), dtype=bool)
    duplicate[order[~first]] = True
    if duplicate.any():
        quarantine.add(lines[duplicate], "id", DUPLICATE_ID, raw_rows(duplicate))
    keep = np.sort(order[first])
    table, lines = table.take(pa.array(keep)), lines[keep]
    ids, vote_count = ids.take(pa.array(keep)), vote_count.take(pa.array(keep))

    release = _blank_to_null(table.column("release_date"))
    date_ok = pc.match_substring_regex(release, r"^\d{4}-\d{2}-\d{2}$")
    bad_dates = int(pc.sum(pc.invert(pc.fill_null(date_ok, True))).as_py() or 0)
    if bad_dates:
        invalid["release_date"] = bad_dates
    release = pc.cast(pc.cast(pc.if_else(date_ok, release, pa.scalar(None, pa.string())), pa.timestamp("s")), pa.date32())
    numbers = {
        name: _parse_numbers(table, name, pa.int64(), r"^\d+$", invalid) for name in POSITIVE_INTS
    }
    numbers = {name: pc.if_else(pc.equal(column, 0), pa.scalar(None, pa.int64()), column) for name, column in numbers.items()}
    decimal = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
    vote_average = _parse_numbers(table, "vote_average", pa.float64(), decimal, invalid)
    popularity = _parse_numbers(table, "popularity", pa.float64(), decimal, invalid)
    ml_title, ml_ids = _movielens_columns(ids.to_numpy(), movielens)
    columns = {
        MOVIE_ID: ids,
        **{name: pc.fill_null(_blank_to_null(table.column(name)), "") for name in TEXT_FIELDS},
        "release_date": release,
        "year": pc.cast(pc.year(release), pa.int32()),
        "runtime": pc.cast(numbers["runtime"], pa.int32()),
        "budget": numbers["budget"],
        "revenue": numbers["revenue"],
        "vote_average": vote_average,
        "vote_count": vote_count,
        "popularity": popularity,
        **{name: _blank_to_null(table.column(name)) for name in OPTIONAL_STRINGS},
        **{name: _split_list(table.column(name)) for name in TMDB_LIST_FIELDS},
        "movielens_title": ml_title,
        "movielens_ids": ml_ids,
    }
    clean = pa.table(columns, schema=CLEAN_MOVIES_SCHEMA)
    return Cleaned(clean, quarantine.table(), extra={"invalid_values_nulled": invalid})


def split_movielens_title(title: str) -> tuple[str, int | None]:
    """"Matrix, The (1999)" → ("The Matrix", 1999)."""
    year = None
    match = _TITLE_YEAR.match(title)
    if match:
        title, year = match.group(1), int(match.group(2))
    article = _TRAILING_ARTICLE.match(title)
    if article:
        joiner = "" if article.group(2).endswith("'") else " "
        title = f"{article.group(2)}{joiner}{article.group(1)}{article.group(3) or ''}"
    return title.strip(), year


def movies_from_movielens(movielens: MovieLensIndex) -> Cleaned:
    """Movie metadata from MovieLens alone (no TMDB file): titles, years and genres mapped to TMDB names."""
    keys = sorted(movielens.title_by_key)
    titles, years, genres = [], [], []
    for key in keys:
        title, year = split_movielens_title(movielens.title_by_key[key])
        mapped = [MOVIELENS_TO_TMDB_GENRES.get(g, g) for g in movielens.genres_by_key[key].split("|")]
        titles.append(title), years.append(year), genres.append([g for g in dict.fromkeys(mapped) if g])
    n = len(keys)
    ml_title, ml_ids = _movielens_columns(np.array(keys, dtype=np.int64), movielens)
    columns = {
        MOVIE_ID: pa.array(keys, pa.int64()),
        "title": pa.array(titles, pa.string()),
        "original_title": pa.array(titles, pa.string()),
        "overview": pa.array([""] * n, pa.string()),
        "tagline": pa.array([""] * n, pa.string()),
        "release_date": pa.nulls(n, pa.date32()),
        "year": pa.array(years, pa.int32()),
        **{name: pa.nulls(n, CLEAN_MOVIES_SCHEMA.field(name).type) for name in ("runtime", "budget", "revenue", "vote_average", "popularity")},
        "vote_count": pa.array(np.zeros(n, dtype=np.int64)),
        **{name: pa.nulls(n, pa.string()) for name in OPTIONAL_STRINGS},
        **{name: pa.array(genres if name == "genres" else [[] for _ in keys], pa.list_(pa.string())) for name in TMDB_LIST_FIELDS},
        "movielens_title": ml_title,
        "movielens_ids": ml_ids,
    }
    return Cleaned(pa.table(columns, schema=CLEAN_MOVIES_SCHEMA), Quarantine().table())
