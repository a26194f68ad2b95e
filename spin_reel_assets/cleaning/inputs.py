"""Finding the input files and reading them as string columns, whatever MovieLens layout they use.

Layouts, chosen by file name:
- ml-latest / 20M / 25M / 32M: ``ratings.csv``, ``movies.csv``, ``links.csv`` (CSV with a header)
- ML-1M / ML-10M: ``ratings.dat``, ``movies.dat`` (``::`` separated, no header)
- ML-100K: ``u.data`` (tab separated, no header), ``u.item`` (``|`` separated, latin-1)
- TMDB: ``TMDB_movie_dataset_v11.csv`` (Kaggle layout)
Every file may also be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

CANDIDATES = {
    "ratings": ("ratings.csv", "ratings.dat", "u.data"),
    "movies": ("movies.csv", "movies.dat", "u.item"),
    "links": ("links.csv",),
    "tmdb": ("TMDB_movie_dataset_v11.csv",),
}

RATINGS_FIELDS = ("userId", "movieId", "rating", "timestamp")
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


class InputError(ValueError):
    """An input file that cannot be read at all (as opposed to bad rows, which are quarantined)."""


def find_input(data_dir: str | Path, kind: str) -> Path | None:
    """The first file of ``kind`` present in ``data_dir`` (plain or .gz), or None."""
    for name in CANDIDATES[kind]:
        for candidate in (Path(data_dir) / name, Path(data_dir) / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def base_name(path: Path) -> str:
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.read()


def decode(data: bytes) -> str:
    """UTF-8 where it is (ml-latest, ML-10M), latin-1 otherwise (ML-100K, ML-1M)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass
class RawRows:
    """String columns of an input file, the physical line of every row, and rows with the wrong field count."""

    table: pa.Table
    lines: np.ndarray
    bad_lines: list[tuple[int, str, str]]  # (line, reason, raw text)


def _read_csv(path: Path, names: tuple[str, ...]) -> RawRows:
    """A headed CSV without embedded newlines, all columns as strings, lines numbered from the header."""
    bad: list[tuple[int, str, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.number, f"wrong number of fields ({row.actual_columns}, expected {row.expected_columns})", row.text))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=64 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, include_columns=list(names), strings_can_be_null=False
            ),
        )

    try:
        table = read(use_threads=True)
        if bad:  # row numbers are only known to a single-threaded reader: read again for exact lines
            bad.clear()
            table = read(use_threads=False)
    except (pa.ArrowInvalid, KeyError) as error:
        raise InputError(f"{path}: cannot read as CSV with columns {','.join(names)}: {error}") from error
    return _with_lines(table, bad, first_line=2)


def _with_lines(table: pa.Table, bad: list[tuple[int, str, str]], first_line: int) -> RawRows:
    # Good rows fill the line numbers the skipped rows leave free.
    total = table.num_rows + len(bad)
    lines = np.arange(first_line, first_line + total, dtype=np.int64)
    if bad:
        lines = np.setdiff1d(lines, np.array([line for line, _, _ in bad], dtype=np.int64), assume_unique=True)
    return RawRows(table, lines, bad)


def _read_split(path: Path, separator: str, names: tuple[str, ...], text: str | None = None) -> RawRows:
    """Header-less files with a (possibly multi-character) separator: ML-100K/1M/10M."""
    if text is None:
        text = decode(read_bytes(path))
    rows = [line for line in text.splitlines()]
    lines = np.arange(1, len(rows) + 1, dtype=np.int64)
    keep = np.array([bool(line.strip()) for line in rows], dtype=bool)
    rows_array = pa.array([row for row, k in zip(rows, keep) if k], pa.string())
    lines = lines[keep]
    parts = pc.split_pattern(rows_array, separator)
    sizes = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    ok = sizes >= len(names)
    bad = [
        (int(line), f"wrong number of fields ({int(size)}, expected {len(names)})", raw)
        for line, size, raw in zip(lines[~ok], sizes[~ok], rows_array.filter(pa.array(~ok)).to_pylist())
    ]
    parts = parts.filter(pa.array(ok))
    columns = [pc.list_element(parts, i) for i in range(len(names))]
    return RawRows(pa.table(columns, names=list(names)), lines[ok], bad)


def read_ratings(path: Path) -> RawRows:
    """Ratings as columns userId, movieId, rating, timestamp (strings)."""
    name = base_name(path)
    if name.endswith(".csv"):
        return _read_csv(path, RATINGS_FIELDS)
    if name.endswith(".dat"):
        return _read_split(path, "::", RATINGS_FIELDS)
    return _read_split(path, "\t", RATINGS_FIELDS)


def read_links(path: Path) -> RawRows:
    return _read_csv(path, ("movieId", "tmdbId"))


def read_movielens_movies(path: Path) -> RawRows:
    """MovieLens movies as columns movieId, title, genres (pipe-separated MovieLens genre names)."""
    name = base_name(path)
    if name.endswith(".csv"):
        # Titles are quoted when they hold commas; the csv module handles that and keeps line numbers.
        import csv

        text = decode(read_bytes(path))
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or header[:3] != ["movieId", "title", "genres"]:
            raise InputError(f"{path}: line 1: expected header movieId,title,genres, found {header}")
        ids, titles, genres, lines, bad = [], [], [], [], []
        for row in reader:
            if len(row) != 3:
                bad.append((reader.line_num, f"wrong number of fields ({len(row)}, expected 3)", ",".join(row)))
                continue
            ids.append(row[0]), titles.append(row[1]), genres.append(row[2]), lines.append(reader.line_num)
        table = pa.table({"movieId": ids, "title": titles, "genres": genres}, schema=_STRINGS3)
        return RawRows(table, np.array(lines, dtype=np.int64), bad)
    if name.endswith(".dat"):
        return _read_split(path, "::", ("movieId", "title", "genres"))
    # u.item: id|title|release date|video date|imdb url|19 genre flags
    raw = _read_split(path, "|", ("movieId", "title", "date", "video", "url", *ML100K_GENRES))
    flags = np.stack([raw.table.column(g).to_numpy(zero_copy_only=False) == "1" for g in ML100K_GENRES], axis=1)
    genres = ["|".join(g for g, on in zip(ML100K_GENRES, row) if on and g != "unknown") for row in flags]
    table = pa.table({"movieId": raw.table.column("movieId"), "title": raw.table.column("title"), "genres": genres})
    return RawRows(table, raw.lines, raw.bad_lines)


_STRINGS3 = pa.schema([("movieId", pa.string()), ("title", pa.string()), ("genres", pa.string())])
