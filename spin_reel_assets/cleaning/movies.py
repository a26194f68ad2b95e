"""Cleaning movie metadata: TMDB v11 rows into typed columns, with the MovieLens titles and ids attached.

When there is no TMDB file, the MovieLens titles and genres become the movie metadata, so the graph still runs.
Required fields (id, title) that are invalid quarantine the row; an optional value that is invalid (a date that does
not exist, a number out of its store's range, text with a NUL or bytes that are not UTF-8) becomes null (empty text,
an empty list) and is counted per field in ``extra["invalid_values_nulled"]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spin_reel_assets.schema import MOVIE_ID, TMDB_LIST_FIELDS

from . import fields
from .fields import INT32_MAX, JSON_INT_MAX, NOT_UTF8, NUL, NUMBER_REASONS, OK
from .inputs import TRUNCATED, RawRows, read_records  # noqa: F401 - TRUNCATED: the TMDB reasons are all here
from .quarantine import Cleaned, Quarantine, reason_counts

TMDB_COLUMNS = (
    "id", "title", "vote_average", "vote_count", "status", "release_date", "revenue", "runtime", "adult",
    "backdrop_path", "budget", "homepage", "imdb_id", "original_language", "original_title", "overview",
    "popularity", "poster_path", "tagline", "genres", "production_companies", "production_countries",
    "spoken_languages", "keywords",
)
TMDB_REQUIRED = ("id", "title")  # every other v11 column may be absent: its values are then empty
TEXT_FIELDS = ("title", "original_title", "overview", "tagline")  # empty string when missing
OPTIONAL_STRINGS = ("status", "backdrop_path", "homepage", "imdb_id", "original_language", "poster_path")
POSITIVE_INTS = {"runtime": INT32_MAX, "budget": JSON_INT_MAX, "revenue": JSON_INT_MAX}  # 0 in TMDB means unknown
RELEASE_YEARS = (1800, 2199)  # earlier than any film, later than any announced one: placeholders and typos

# MongoDB refuses a document over 16 MiB (BSON); a row whose text would make one is quarantined here, with a reason,
# instead of failing the whole collection write. The estimate counts the title twice (title_lower) and 16 bytes of
# BSON framing per list element, and keeps 64 KiB for the fixed fields.
MAX_DOCUMENT_BYTES = (16 << 20) - (64 << 10)

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
DUPLICATE_MOVIE_ID = "duplicate movieId: a later row"
MISSING = NUMBER_REASONS[fields.MISSING]
NOT_A_NUMBER = NUMBER_REASONS[fields.MALFORMED]
OUT_OF_RANGE = NUMBER_REASONS[fields.OUT_OF_RANGE]
TOO_LARGE = "too large for one MongoDB document (16 MiB)"

_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
# "City of Lost Children, The (Cité des enfants perdus, La)": the article may precede an alternate title.
_TRAILING_ARTICLE = re.compile(r"^(.*?), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las)( \(.*\))?$")


def read_tmdb(path: Path) -> RawRows:
    """The TMDB v11 columns as strings, one row per complete record; malformed records become bad lines.

    Only ``id`` and ``title`` must be in the header; the optional columns it lacks are empty and listed in
    ``RawRows.missing_columns``.
    """
    return read_records(path, TMDB_COLUMNS, TMDB_REQUIRED)


def _blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _split_list(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """"A, B, C" → ["A", "B", "C"]; empty → []."""
    parts = pc.split_pattern(_blank_to_null(column), ", ")
    return pc.fill_null(parts, pa.scalar([], pa.list_(pa.string())))


class _Rows:
    """The rows of one input being cleaned: required-field problems quarantine, optional ones null and count."""

    def __init__(self, raw: RawRows, raw_text):
        self.raw, self.raw_text = raw, raw_text
        self.quarantine = Quarantine()
        for line, reason, text in raw.bad_lines:
            self.quarantine.add(line, None, reason, text)
        self.ok = np.ones(raw.table.num_rows, dtype=bool)
        self.invalid: dict[str, int] = {}

    def reject(self, mask: np.ndarray, name: str | None, reason: str) -> None:
        mask = mask & self.ok
        if mask.any():
            self.quarantine.add(self.raw.lines[mask], name, reason, self.raw_text(mask))
            self.ok &= ~mask

    def reject_codes(self, codes: np.ndarray, name: str, reasons: dict[int, str]) -> None:
        for code, reason in reasons.items():
            self.reject(codes == code, name, reason)

    def text_problems(self, name: str) -> np.ndarray:
        """Rows whose ``name`` is not storable text: undecodable bytes or a NUL."""
        undecodable = self.raw.undecodable.get(name, np.zeros(self.raw.table.num_rows, dtype=bool))
        return undecodable | fields.has_nul(self.raw.table.column(name))

    def null_invalid(self, name: str, invalid: np.ndarray) -> np.ndarray:
        """Count the optional values of ``name`` about to be nulled among the rows kept; returns the mask."""
        count = int((invalid & self.ok).sum())
        if count:
            self.invalid[name] = self.invalid.get(name, 0) + count
        return invalid


def _document_bytes(table: pa.Table) -> np.ndarray:
    """An upper estimate of each row's BSON size from its text (see MAX_DOCUMENT_BYTES)."""
    size = 2 * fields.utf8_bytes(table.column("title"))
    for name in (*TEXT_FIELDS[1:], *OPTIONAL_STRINGS, *TMDB_LIST_FIELDS):
        size += fields.utf8_bytes(table.column(name))
    for name in TMDB_LIST_FIELDS:
        size += 16 * (pc.count_substring(table.column(name), ", ").to_numpy(zero_copy_only=False).astype(np.int64) + 1)
    return size


def _movielens_columns(ids: np.ndarray, movielens: "MovieLensIndex | None"):
    if movielens is None:
        return pa.nulls(len(ids), pa.string()), pa.array([[] for _ in ids], pa.list_(pa.int64()))
    titles = [movielens.title_by_key.get(int(key)) for key in ids]
    movie_ids = [movielens.ids_by_key.get(int(key), []) for key in ids]
    return pa.array(titles, pa.string()), pa.array(movie_ids, pa.list_(pa.int64()))


class MovieLensIndex:
    """MovieLens titles and movieIds by canonical key (tmdb_id through links, else movieId).

    Rows of the movies file with an invalid movieId or title, or repeating a movieId, are left out and kept in
    ``quarantine`` (with their line in the movies file); their movieIds still map to a key through links.
    """

    def __init__(self, movies: RawRows | None, key_map: dict[int, int] | None):
        self.ids_by_key: dict[int, list[int]] = {}
        self.title_by_key: dict[int, str] = {}
        self.genres_by_key: dict[int, str] = {}
        self.lines_by_key: dict[int, int] = {}
        titles: dict[int, tuple[str, str, int]] = {}
        self.quarantine = Quarantine().table()
        if movies is not None:
            table = movies.table

            def raw_text(mask):
                subset = table.filter(pa.array(mask))
                ids = [v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v for v in subset.column("movieId").to_pylist()]
                return np.asarray([f"{i},{t}"[:500] for i, t in zip(ids, subset.column("title").to_pylist())], dtype=object)

            rows = _Rows(movies, raw_text)
            movie_ids, codes = fields.parse_integers(table.column("movieId"), 1, INT32_MAX)
            rows.reject_codes(codes, "movieId", NUMBER_REASONS)
            rows.reject(rows.raw.undecodable.get("title", np.zeros(table.num_rows, bool)), "title", NOT_UTF8)
            rows.reject(pc.equal(pc.utf8_trim_whitespace(table.column("title")), "").to_numpy(zero_copy_only=False), "title", MISSING)
            rows.reject(fields.has_nul(table.column("title")), "title", NUL)
            rows.reject(2 * fields.utf8_bytes(table.column("title")) + fields.utf8_bytes(table.column("genres")) > MAX_DOCUMENT_BYTES,
                        "title", TOO_LARGE)
            later = np.zeros(table.num_rows, dtype=bool)
            index = np.flatnonzero(rows.ok)
            _, first = np.unique(movie_ids[index], return_index=True)
            later[index] = True
            later[index[first]] = False
            rows.reject(later, "movieId", DUPLICATE_MOVIE_ID)
            genres_ok = ~rows.text_problems("genres")
            keep = np.flatnonzero(rows.ok)
            title_values, genre_values = table.column("title").take(keep).to_pylist(), table.column("genres").take(keep).to_pylist()
            for position, movie_id, title, genres in zip(keep.tolist(), movie_ids[keep].tolist(), title_values, genre_values):
                titles[movie_id] = (title, genres if genres_ok[position] else "", int(movies.lines[position]))
            self.quarantine = rows.quarantine.table()
        movie_ids = set(titles) | set(key_map or {})
        for movie_id in sorted(movie_ids):
            key = movie_id if key_map is None else key_map.get(movie_id)
            if key is None:
                continue
            self.ids_by_key.setdefault(key, []).append(movie_id)
            if movie_id in titles and key not in self.title_by_key:
                self.title_by_key[key], self.genres_by_key[key], self.lines_by_key[key] = titles[movie_id]


def clean_tmdb(raw: RawRows, movielens: MovieLensIndex | None) -> Cleaned:
    """Typed TMDB movies: lists as lists, dates as dates, zeros as unknown, adult titles and duplicate ids out.

    ``extra``: ``invalid_values_nulled`` (field → count), ``missing_columns`` (optional v11 columns the file lacks),
    ``movielens_rows_quarantined`` (reason → count, rows of the MovieLens movies file left out).
    """
    table = raw.table

    def raw_text(mask: np.ndarray) -> np.ndarray:
        subset = table.filter(pa.array(mask))
        return np.asarray([f"{i},{t}"[:500] for i, t in zip(subset.column("id").to_pylist(), subset.column("title").to_pylist())],
                          dtype=object)

    rows = _Rows(raw, raw_text)
    no_rows = np.zeros(table.num_rows, dtype=bool)
    rows.reject(raw.undecodable.get("id", no_rows), "id", NOT_UTF8)
    ids, codes = fields.parse_integers(table.column("id"), 1, INT32_MAX)
    rows.reject_codes(codes, "id", NUMBER_REASONS)
    rows.reject(raw.undecodable.get("title", no_rows), "title", NOT_UTF8)
    rows.reject(pc.is_null(_blank_to_null(table.column("title"))).to_numpy(zero_copy_only=False), "title", MISSING)
    rows.reject(fields.has_nul(table.column("title")), "title", NUL)
    adult = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(table.column("adult"))), "true").to_numpy(zero_copy_only=False)
    rows.reject(adult, "adult", ADULT)
    rows.reject(_document_bytes(table) > MAX_DOCUMENT_BYTES, None, TOO_LARGE)

    vote_count, vote_codes = fields.parse_integers(table.column("vote_count"), 0, JSON_INT_MAX)
    vote_count = np.where(vote_codes == OK, vote_count, 0)  # no count: no votes

    # One row per id: the one with the most votes (then the earliest line).
    index = np.flatnonzero(rows.ok)
    order = index[np.lexsort((raw.lines[index], -vote_count[index], ids[index]))]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    duplicate = np.zeros(table.num_rows, dtype=bool)
    duplicate[order[~first]] = True
    rows.reject(duplicate, "id", DUPLICATE_ID)
    rows.null_invalid("vote_count", (vote_codes != OK) & (vote_codes != fields.MISSING))

    columns = _optional_columns(table, rows)
    keep = np.flatnonzero(rows.ok)
    take = pa.array(keep)
    ml_title, ml_ids = _movielens_columns(ids[keep], movielens)
    release = columns.pop("release_date")
    clean = pa.table(
        {
            MOVIE_ID: pa.array(ids[keep], pa.int64()),
            **{name: columns[name].take(take) for name in TEXT_FIELDS},
            "release_date": release.take(take),
            "year": pc.cast(pc.year(release.take(take)), pa.int32()),
            **{name: columns[name].take(take) for name in (*POSITIVE_INTS, "vote_average")},
            "vote_count": pa.array(vote_count[keep], pa.int64()),
            **{name: columns[name].take(take) for name in ("popularity", *OPTIONAL_STRINGS, *TMDB_LIST_FIELDS)},
            "movielens_title": ml_title,
            "movielens_ids": ml_ids,
        },
        schema=CLEAN_MOVIES_SCHEMA,
    )
    extra = {"invalid_values_nulled": rows.invalid, "missing_columns": list(raw.missing_columns)}
    if movielens is not None and movielens.quarantine.num_rows:
        extra["movielens_rows_quarantined"] = reason_counts(movielens.quarantine)
    return Cleaned(clean, rows.quarantine.table(), extra=extra)


def _optional_columns(table: pa.Table, rows: _Rows) -> dict[str, pa.Array]:
    """The optional TMDB fields typed, every invalid value nulled (and counted) rather than the row rejected."""
    columns: dict[str, pa.Array] = {}
    for name in ("original_title", "overview", "tagline", *OPTIONAL_STRINGS, *TMDB_LIST_FIELDS):
        bad = rows.null_invalid(name, rows.text_problems(name))
        column = pc.if_else(pa.array(bad), pa.scalar("", pa.string()), table.column(name).combine_chunks())
        if name in TMDB_LIST_FIELDS:
            columns[name] = _split_list(column)
        elif name in OPTIONAL_STRINGS:
            columns[name] = _blank_to_null(column)
        else:
            columns[name] = pc.fill_null(_blank_to_null(column), "")
    columns["title"] = pc.utf8_trim_whitespace(table.column("title"))

    def numbers(name: str, values: np.ndarray, codes: np.ndarray, kind: pa.DataType, zero_is_unknown: bool) -> pa.Array:
        rows.null_invalid(name, (codes != OK) & (codes != fields.MISSING))
        valid = (codes == OK) & ((values != 0) if zero_is_unknown else True)
        return pa.array(values, kind, mask=~valid)

    for name, high in POSITIVE_INTS.items():
        values, codes = fields.parse_integers(table.column(name), 0, high)
        columns[name] = numbers(name, values, codes, pa.int32() if name == "runtime" else pa.int64(), True)
    for name, high in (("vote_average", 10.0), ("popularity", float(np.finfo(np.float64).max))):
        values, codes = fields.parse_decimals(table.column(name), 0.0, high, scientific=True)
        columns[name] = numbers(name, values, codes, pa.float64(), False)
    days, codes = fields.parse_dates(table.column("release_date"), *RELEASE_YEARS)
    rows.null_invalid("release_date", (codes != OK) & (codes != fields.MISSING))
    columns["release_date"] = pa.array(days, pa.int32(), mask=codes != OK).cast(pa.date32())
    return columns


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
    return Cleaned(pa.table(columns, schema=CLEAN_MOVIES_SCHEMA), movielens.quarantine)
