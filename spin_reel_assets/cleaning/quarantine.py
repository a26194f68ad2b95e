"""The quarantine: rows that did not make it into a clean table, each with where it was and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

QUARANTINE_SCHEMA = pa.schema(
    [("line", pa.int64()), ("field", pa.string()), ("reason", pa.string()), ("raw", pa.string())]
)


@dataclass
class Quarantine:
    """Collects rejected rows as columns; ``table()`` gives them in file order."""

    lines: list[np.ndarray] = field(default_factory=list)
    fields: list[np.ndarray] = field(default_factory=list)
    reasons: list[np.ndarray] = field(default_factory=list)
    raws: list[np.ndarray] = field(default_factory=list)

    def add(self, line, field_name, reason, raw) -> None:
        """Add one row (scalars) or many (arrays of equal length; scalars broadcast)."""
        line = np.atleast_1d(np.asarray(line, dtype=np.int64))
        n = len(line)
        self.lines.append(line)
        self.fields.append(np.broadcast_to(np.asarray(field_name, dtype=object), (n,)))
        self.reasons.append(np.broadcast_to(np.asarray(reason, dtype=object), (n,)))
        self.raws.append(np.broadcast_to(np.asarray(raw, dtype=object), (n,)))

    def table(self) -> pa.Table:
        if not self.lines:
            return QUARANTINE_SCHEMA.empty_table()
        lines = np.concatenate(self.lines)
        order = np.argsort(lines, kind="stable")
        columns = [lines, *(np.concatenate(part) for part in (self.fields, self.reasons, self.raws))]
        return pa.Table.from_arrays([pa.array(c[order]) for c in columns], schema=QUARANTINE_SCHEMA)


def reason_counts(quarantine: pa.Table) -> dict[str, int]:
    """Rows per reason, most frequent first (for asset metadata)."""
    return dict(Counter(quarantine.column("reason").to_pylist()).most_common())


@dataclass
class Cleaned:
    """A clean table with the rows that were quarantined on the way; IO managers write both."""

    table: pa.Table
    quarantine: pa.Table
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return reason_counts(self.quarantine)
