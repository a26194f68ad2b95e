"""Finding the input files and splitting them into records of raw fields, whatever MovieLens layout they use.

Layouts, chosen by file name:
- ml-latest / 20M / 25M / 32M: ``ratings.csv``, ``movies.csv``, ``links.csv`` (CSV with a header, UTF-8)
- ML-1M / ML-10M: ``ratings.dat``, ``movies.dat`` (``::`` separated, no header; latin-1 in ML-1M, UTF-8 in ML-10M)
- ML-100K: ``u.data`` (tab separated, no header), ``u.item`` (``|`` separated, latin-1)
- TMDB: ``TMDB_movie_dataset_v11.csv`` (Kaggle layout, UTF-8)
Every file may also be gzip-compressed (``.gz``).

A file that cannot be read at all raises ``InputError`` with one line naming the file (and the line and field where
there is one) and saying what is wrong: truncated gzip, compressed content under a plain name, another delimiter, no
header. Everything else is decided record by record: a record is decoded on its own, so one bad byte marks one record
(``RawRows.undecodable``), never the whole file re-decoded in another encoding.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

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
LINKS_FIELDS = ("movieId", "tmdbId")
MOVIES_FIELDS = ("movieId", "title", "genres")
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

# Python's csv module stops at 131,072 characters per field; a long overview is still a good record. The limit is
# process-wide, so it is only ever raised, to a bound above MongoDB's 16 MiB document limit: a record that large is
# then quarantined by the document-size check with a reason, rather than by the csv module with a parse error.
MAX_FIELD_CHARS = 64 << 20
PYARROW_BLOCK_BYTES = 64 << 20  # also the longest line the ratings/links reader takes
RAW_LIMIT = 500  # characters of a rejected record kept in the quarantine

_SIGNATURES = {b"\x1f\x8b": "gzip-compressed", b"PK\x03\x04": "a zip archive", b"BZh": "bzip2-compressed",
               b"\xfd7zXZ\x00": "xz-compressed"}
_SURROGATE = re.compile("[\udc80-\udcff]")  # what undecodable bytes become under errors="surrogateescape"


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


@dataclass
class RawRows:
    """Raw fields of the well-formed records, their first physical line, and the malformed records.

    ``undecodable`` marks, per column, the records whose value was not valid UTF-8 (the value then holds the bytes
    escaped as ``\\xNN``, for the quarantine); ``missing_columns`` lists the optional columns the header lacked
    (their values are empty).
    """

    table: pa.Table
    lines: np.ndarray
    bad_lines: list[tuple[int, str, str]]  # (line, reason, raw text)
    undecodable: dict[str, np.ndarray] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)


def excerpt(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"


# --- bytes -----------------------------------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _gzip_error(path: Path, error: Exception) -> InputError:
    return InputError(f"{path}: the gzip stream is truncated or corrupt ({error}); download or compress it again")


def _check_content(path: Path, head: bytes) -> None:
    """Compressed or binary bytes where text is expected: say so instead of failing on a missing column."""
    for signature, kind in _SIGNATURES.items():
        if head.startswith(signature):
            hint = f"; name it {path.name}.gz" if signature == b"\x1f\x8b" else "; extract it first"
            raise InputError(f"{path}: line 1: the content is {kind}, not CSV text{hint}")
    if b"\x00" in head[:4096].split(b"\n", 1)[0]:  # in a record, a NUL is that record's problem; in line 1, binary
        raise InputError(f"{path}: line 1: binary content (NUL bytes), not CSV text")


def read_bytes(path: Path) -> bytes:
    """The whole file, decompressed; InputError for a truncated or corrupt gzip stream or non-text content."""
    try:
        with _open(path) as handle:
            data = handle.read()
    except (EOFError, OSError, zlib.error) as error:
        raise _gzip_error(path, error) from error
    _check_content(path, data[:4096])
    return data


def _first_line(path: Path) -> bytes:
    """The first line (up to 64 KiB) of the decompressed file, after checking its content is text."""
    try:
        with _open(path) as handle:
            head = handle.read(1 << 16)
    except (EOFError, OSError, zlib.error) as error:
        raise _gzip_error(path, error) from error
    _check_content(path, head)
    return head.split(b"\n", 1)[0].rstrip(b"\r")


# --- headers ---------------------------------------------------------------------------------------------------------


def check_header(path: Path, line: str | None, header: list[str] | None, required: tuple[str, ...]) -> list[str]:
    """The header's column names, or InputError saying what is wrong with line 1 (absent, another delimiter, data)."""
    expected = ",".join(required)
    if line is None or not line.strip():
        raise InputError(f"{path}: line 1: the file is empty; expected a header line with {expected}")
    header = [name.strip() for name in (header if header is not None else next(csv.reader([line])))]
    missing = [name for name in required if name not in header]
    if not missing:
        return header
    for delimiter, label in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
        names = [name.strip().strip('"') for name in line.split(delimiter)]
        if len(names) > 1 and all(name in names for name in required):
            raise InputError(f"{path}: line 1: fields are separated by {label}, expected ','")
    if header and re.fullmatch(r"\s*\d[\d.]*\s*", header[0]):  # every layout starts with an id
        raise InputError(f"{path}: line 1: no header row (line 1 is data: {excerpt(line)!r}); expected {expected}")
    raise InputError(f"{path}: line 1: field {missing[0]}: the header lacks column(s) {', '.join(missing)} "
                     f"(found {', '.join(header[:30])})")


# --- headed CSV of numbers (ratings.csv, links.csv): pyarrow, multithreaded -----------------------------------------


def _read_numeric_csv(path: Path, names: tuple[str, ...]) -> RawRows:
    """A headed CSV whose fields are numbers: the named columns as raw bytes, lines numbered from the header.

    Empty lines are kept as rows (their fields are missing values), so every physical line keeps its number.
    """
    first = _first_line(path).decode("utf-8-sig", errors="replace")
    check_header(path, first, None, names)
    bad: list[tuple[int, str, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.number, f"wrong number of fields ({row.actual_columns}, expected {row.expected_columns})",
                    excerpt(row.text)))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=PYARROW_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in names}, include_columns=list(names), strings_can_be_null=False
            ),
        )

    try:
        table = read(use_threads=True)
        if bad:  # row numbers are only known to a single-threaded reader: read again for exact lines
            bad.clear()
            table = read(use_threads=False)
    except pa.ArrowInvalid as error:
        if "straddling" in str(error):
            raise InputError(f"{path}: a line is longer than {PYARROW_BLOCK_BYTES >> 20} MiB") from error
        raise InputError(f"{path}: cannot read as CSV: {error}") from error
    except OSError as error:  # what a truncated or corrupt gzip stream raises
        raise _gzip_error(path, error) from error
    return _with_lines(table, bad, first_line=2)


def _with_lines(table: pa.Table, bad: list[tuple[int, str, str]], first_line: int) -> RawRows:
    # Good rows fill the line numbers the skipped rows leave free; a quoted value spanning lines pushes the later
    # records down by the line breaks it holds (such a value is never a number, so this is only for the quarantine).
    total = table.num_rows + len(bad)
    lines = np.arange(first_line, first_line + total, dtype=np.int64)
    if bad:
        lines = np.setdiff1d(lines, np.array([line for line, _, _ in bad], dtype=np.int64), assume_unique=True)
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pc.any(pc.match_substring(column, "\n")).as_py():
            breaks += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
    if breaks.any():
        lines = lines + np.concatenate([[0], np.cumsum(breaks)[:-1]])
    return RawRows(table, lines, bad)


# --- quoted CSV with text (movies.csv, TMDB): Python's csv module, one record at a time ------------------------------


class _LineIndex:
    """Byte offsets of line starts, built on first use: excerpts of malformed records without re-splitting the text."""

    def __init__(self, data: bytes):
        self.data, self.starts = data, None

    def excerpt(self, line: int) -> str:
        if self.starts is None:
            self.starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(self.data, np.uint8) == 10) + 1])
        start = self.starts[min(line - 1, len(self.starts) - 1)]
        return excerpt(self.data[start : start + 4 * RAW_LIMIT].decode("utf-8", errors="backslashreplace"))


def _undecodable_lines(text: str) -> list[int]:
    """Physical lines (1-based, sorted) holding bytes that are not UTF-8; one pass over the text."""
    lines, line, position = [], 1, 0
    for match in _SURROGATE.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


# A line as io.StringIO(text, newline="") yields it: ended by \r\n, \r or \n, kept.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, as ``io.StringIO(text, newline="")`` iterates them, without the
    StringIO's copy of the whole text at 4 bytes per character (1.5 GB for a full TMDB file)."""
    return (match.group() for match in _LINE.finditer(text))


def _escape(value: str) -> str:
    return value.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def read_records(path: Path, columns: tuple[str, ...], required: tuple[str, ...]) -> RawRows:
    """A headed, quoted CSV as string columns ``columns`` (those the header lacks are empty), one row per record.

    Records are decoded one by one (invalid UTF-8 marks only its own record's field). The csv module in strict mode
    reports an unterminated quoted field (a truncated file) where pyarrow would drop the last row without a word.
    """
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text, decodable = data.decode("utf-8"), True
    except UnicodeDecodeError:  # keep the bad bytes as surrogates, to find and mark their records below
        text, decodable = data.decode("utf-8", errors="surrogateescape"), False
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    reader = csv.reader(text_lines(text), strict=True)
    first_line = text.split("\n", 1)[0].rstrip("\r") if text else None
    try:
        header_fields = next(reader, None)
    except csv.Error as error:
        raise InputError(f"{path}: line 1: the header is not valid CSV ({error})") from error
    header = check_header(path, first_line, header_fields, required)
    missing_columns = [name for name in columns if name not in header]
    positions = [(name, header.index(name)) for name in columns if name in header]
    values: dict[str, list[str]] = {name: [] for name, _ in positions}
    appends = [(values[name].append, position) for name, position in positions]
    lines: list[int] = []
    ends: list[int] = []
    bad: list[tuple[int, str, str]] = []
    index = _LineIndex(data)
    width = len(header)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            at_end = "end of data" in str(error)
            bad.append((start, TRUNCATED if at_end else f"malformed CSV: {error}", index.excerpt(start)))
            if at_end:
                break
            continue
        if len(row) != width:
            if row:  # an empty line between records is no record
                bad.append((start, f"wrong number of fields ({len(row)}, expected {width})", excerpt(",".join(row))))
            continue
        for append, position in appends:  # appends, not the rows kept: 1M live lists would wake the cyclic GC
            append(row[position])
        lines.append(start)
        ends.append(reader.line_num)
    n = len(lines)
    undecodable = {} if decodable else _mark_undecodable(values, _undecodable_lines(text), np.array(lines, np.int64), np.array(ends, np.int64))
    table = pa.table({name: pa.array(values[name], pa.string()) if name in values else pa.array([""] * n, pa.string())
                      for name in columns})
    return RawRows(table, np.array(lines, dtype=np.int64), bad, undecodable, missing_columns)


def _mark_undecodable(values: dict[str, list[str]], bad_lines: list[int], starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Per column, the records whose value holds undecodable bytes; those values are escaped in place (\\xNN)."""
    if not bad_lines:
        return {}
    bad_lines = np.array(bad_lines, dtype=np.int64)
    first = np.searchsorted(bad_lines, starts)
    suspects = np.flatnonzero((first < len(bad_lines)) & (bad_lines[np.minimum(first, len(bad_lines) - 1)] <= ends))
    masks: dict[str, np.ndarray] = {}
    for name, column in values.items():
        for record in suspects.tolist():
            if _SURROGATE.search(column[record]):
                masks.setdefault(name, np.zeros(len(starts), dtype=bool))[record] = True
                column[record] = _escape(column[record])
    return masks


TRUNCATED = "truncated row: file ends inside a quoted field"


# --- header-less legacy layouts (ML-100K, ML-1M, ML-10M) -----------------------------------------------------------


def _read_split(path: Path, separator: str, names: tuple[str, ...], text_fields: tuple[str, ...] = ()) -> RawRows:
    """Header-less files with a (possibly multi-character) separator, one record per line.

    Fields stay bytes; ``text_fields`` are decoded per record, as UTF-8 where the record is (ML-10M), else latin-1
    (ML-100K, ML-1M are latin-1 files).
    """
    rows = read_bytes(path).split(b"\n")
    if rows and rows[-1] == b"":
        rows.pop()
    lines = np.arange(1, len(rows) + 1, dtype=np.int64)
    rows = [row.rstrip(b"\r") for row in rows]
    keep = np.array([bool(row.strip()) for row in rows], dtype=bool)
    rows_array = pa.array([row for row, k in zip(rows, keep) if k], pa.binary())
    lines = lines[keep]
    parts = pc.split_pattern(rows_array, separator)
    sizes = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    ok = sizes >= len(names)
    bad = [
        (int(line), f"wrong number of fields ({int(size)}, expected {len(names)})",
         excerpt(raw.decode("utf-8", errors="backslashreplace")))
        for line, size, raw in zip(lines[~ok], sizes[~ok], rows_array.filter(pa.array(~ok)).to_pylist())
    ]
    parts = parts.filter(pa.array(ok))
    columns = [pc.list_element(parts, i) for i in range(len(names))]
    for i, name in enumerate(names):
        if name in text_fields:
            columns[i] = pa.array([_decode_legacy(value) for value in columns[i].to_pylist()], pa.string())
    return RawRows(pa.table(columns, names=list(names)), lines[ok], bad)


def _decode_legacy(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


# --- the inputs ------------------------------------------------------------------------------------------------------


def read_ratings(path: Path) -> RawRows:
    """Ratings as raw columns userId, movieId, rating, timestamp."""
    name = base_name(path)
    if name.endswith(".csv"):
        return _read_numeric_csv(path, RATINGS_FIELDS)
    if name.endswith(".dat"):
        return _read_split(path, "::", RATINGS_FIELDS)
    return _read_split(path, "\t", RATINGS_FIELDS)


def read_links(path: Path) -> RawRows:
    """links.csv as raw columns movieId, tmdbId (imdbId is not used)."""
    return _read_numeric_csv(path, LINKS_FIELDS)


def read_movielens_movies(path: Path) -> RawRows:
    """MovieLens movies as columns movieId, title, genres (pipe-separated MovieLens genre names)."""
    name = base_name(path)
    if name.endswith(".csv"):
        return read_records(path, MOVIES_FIELDS, MOVIES_FIELDS)
    if name.endswith(".dat"):
        return _read_split(path, "::", MOVIES_FIELDS, text_fields=("title", "genres"))
    # u.item: id|title|release date|video date|imdb url|19 genre flags
    raw = _read_split(path, "|", ("movieId", "title", "date", "video", "url", *ML100K_GENRES), text_fields=("title",))
    flags = np.stack([raw.table.column(g).to_numpy(zero_copy_only=False) == b"1" for g in ML100K_GENRES], axis=1)
    genres = ["|".join(g for g, on in zip(ML100K_GENRES, row) if on and g != "unknown") for row in flags]
    table = pa.table({"movieId": raw.table.column("movieId"), "title": raw.table.column("title"), "genres": genres})
    return RawRows(table, raw.lines, raw.bad_lines)
