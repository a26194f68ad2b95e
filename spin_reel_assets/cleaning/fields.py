"""Typed, bounded field parsers: string columns in, typed numpy values and a problem code per row out.

The bounds are the stores' constraints, so a value that passes here can be written to every store and served as JSON:
ids are PostgreSQL ``integer`` (int4), timestamps fit PostgreSQL, BSON, Arrow microseconds and Python ``datetime``,
no float is NaN or infinite (JSON has neither), no integer exceeds 2^53 - 1 (the last one a JSON client reads
exactly), no text holds a NUL (PostgreSQL text cannot). Parsing never raises on a value: the caller decides whether a
problem quarantines the row (required field) or nulls the value and counts it (optional field).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INT32_MAX = 2**31 - 1
JSON_INT_MAX = 2**53 - 1
# Unix seconds from 1970-01-01 to 9999-12-31T23:59:59 (Python datetime's last second; PostgreSQL and BSON go further).
TIMESTAMP_MIN, TIMESTAMP_MAX = 0, 253_402_300_799

# Problem codes (uint8 per row) and the reasons they stand for in the quarantine and the metadata.
OK, MISSING, MALFORMED, OUT_OF_RANGE = 0, 1, 2, 3
NUMBER_REASONS = {MISSING: "missing value", MALFORMED: "not a number", OUT_OF_RANGE: "out of range"}
NUL = "contains a NUL character"
NOT_UTF8 = "not valid UTF-8"

# An integer: digits with an optional all-zero fraction ("862.0" is how pandas writes an int column with gaps).
INTEGER = r"^\s*\d+(\.0*)?\s*$"
DECIMAL = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"
SCIENTIFIC = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"


def _as_strings(column) -> pa.ChunkedArray:
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    return column


def _syntax(column, pattern: str) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """The column with bad values nulled (as trimmed strings), and the missing and malformed masks."""
    column = _as_strings(column)
    good = pc.fill_null(pc.match_substring_regex(column, pattern), False)
    bad = ~good.to_numpy(zero_copy_only=False)
    missing = np.zeros(len(bad), dtype=bool)
    if bad.any():  # blank or not: only asked of the (few) values that did not parse
        rows = np.flatnonzero(bad)
        values = column.take(pa.array(rows))
        missing[rows] = pc.fill_null(pc.match_substring_regex(values, r"^\s*$"), True).to_numpy(zero_copy_only=False)
    kept = pc.if_else(good, column, pa.scalar(None, column.type))
    if not pa.types.is_string(kept.type):  # binary columns (ratings, links): what matched is ASCII
        kept = kept.cast(pa.string())
    return pc.utf8_trim_whitespace(kept), missing, bad & ~missing


def _codes(missing: np.ndarray, malformed: np.ndarray, out_of_range: np.ndarray) -> np.ndarray:
    codes = np.zeros(len(missing), dtype=np.uint8)
    codes[out_of_range] = OUT_OF_RANGE
    codes[malformed] = MALFORMED
    codes[missing] = MISSING
    return codes


def parse_integers(column, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Integers in [low, high] (both within ±2^53): (int64 values, problem codes).

    Parsed through float64, which is exact for every integer the bounds admit and turns any digit string, however
    long, into a comparable number (inf at worst) instead of an overflow.
    """
    text, missing, malformed = _syntax(column, INTEGER)
    values = pc.fill_null(pc.cast(text, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
    out_of_range = ~missing & ~malformed & ((values < low) | (values > high))
    codes = _codes(missing, malformed, out_of_range)
    values = np.where(codes == OK, values, 0.0).astype(np.int64)
    return values, codes


def parse_decimals(column, low: float, high: float, scientific: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Finite decimals in [low, high]: (float64 values, problem codes). With ``scientific``, 1.5e3 is a number too."""
    text, missing, malformed = _syntax(column, SCIENTIFIC if scientific else DECIMAL)
    values = pc.fill_null(pc.cast(text, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        out_of_range = ~missing & ~malformed & ~((values >= low) & (values <= high))  # also ±inf (1e999)
    codes = _codes(missing, malformed, out_of_range)
    return np.where(codes == OK, values, 0.0), codes


def parse_dates(column, first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Calendar dates YYYY-MM-DD with the year in [first_year, last_year]: (days since 1970 as int32, codes).

    A date that does not exist (2020-13-45, 2021-02-29) is malformed; no parser normalises it into another day.
    """
    text, missing, malformed = _syntax(column, DATE)
    parts = [
        pc.fill_null(pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int32()), 1).to_numpy(zero_copy_only=False)
        for start, stop in ((0, 4), (5, 7), (8, 10))
    ]
    year, month, day = parts
    month_ok = (month >= 1) & (month <= 12)
    first = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    real = month_ok & (day >= 1) & (day <= length)
    malformed |= ~missing & ~real
    out_of_range = ~missing & ~malformed & ((year < first_year) | (year > last_year))
    codes = _codes(missing, malformed, out_of_range)
    days = (first.astype("datetime64[D]") + (day - 1)).astype(np.int64)
    return np.where(codes == OK, days, 0).astype(np.int32), codes


def has_nul(column) -> np.ndarray:
    """Per row: does the text hold a NUL character (which PostgreSQL text cannot store)?"""
    return pc.fill_null(pc.match_substring(_as_strings(column), "\x00"), False).to_numpy(zero_copy_only=False)


def utf8_bytes(column) -> np.ndarray:
    """Per row: the UTF-8 length of a string column (0 for null)."""
    return pc.fill_null(pc.binary_length(_as_strings(column)), 0).to_numpy(zero_copy_only=False).astype(np.int64)
