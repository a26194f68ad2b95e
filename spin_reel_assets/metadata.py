"""Asset metadata helpers: Markdown previews and quarantine summaries for the Dagster UI."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from spin_reel_assets.cleaning.quarantine import Cleaned


def _cell(value) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def markdown_preview(table: pa.Table, rows: int = 5, columns: list[str] | None = None) -> dg.MetadataValue:
    table = table.select(columns) if columns else table
    head = table.slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(table.column_names) + " |", "|" + "---|" * table.num_columns]
    lines += ["| " + " | ".join(_cell(row[name]) for name in table.column_names) + " |" for row in head]
    return dg.MetadataValue.md("\n".join(lines))


def table_metadata(table: pa.Table) -> dict:
    """Dagster's standard table metadata (``dagster/row_count``, ``dagster/column_schema``): the UI's row count and
    column list for any table-like asset."""
    columns = [dg.TableColumn(field.name, str(field.type), constraints=dg.TableColumnConstraints(nullable=field.nullable))
               for field in table.schema]
    return {
        "dagster/row_count": dg.MetadataValue.int(table.num_rows),
        "dagster/column_schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns)),
    }


def cleaning_metadata(cleaned: Cleaned, rows_in: int, seconds: float, preview_columns: list[str] | None = None) -> dict:
    """Counts in and out, quarantined rows per reason, and previews of both tables."""
    metadata = {
        **table_metadata(cleaned.table),
        "source": cleaned.source,
        "rows_in": dg.MetadataValue.int(rows_in),
        "rows_out": dg.MetadataValue.int(cleaned.table.num_rows),
        "quarantined": dg.MetadataValue.int(cleaned.quarantine.num_rows),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
        "rows_per_second": dg.MetadataValue.int(int(rows_in / max(seconds, 1e-9))),
        "preview": markdown_preview(cleaned.table, columns=preview_columns),
    }
    for reason, count in cleaned.counts.items():
        metadata[f"quarantine: {reason}"] = dg.MetadataValue.int(count)
    if cleaned.quarantine.num_rows:
        metadata["quarantine_preview"] = markdown_preview(cleaned.quarantine, rows=10)
    for key, value in cleaned.extra.items():
        if key == "invalid_values_nulled":
            for field, count in value.items():
                metadata[f"invalid values set null: {field}"] = dg.MetadataValue.int(count)
        elif isinstance(value, dict):
            metadata[key] = dg.MetadataValue.json(value)
        elif isinstance(value, (list, tuple)):
            metadata[key] = ", ".join(map(str, value)) or "none"
        else:
            metadata[key] = dg.MetadataValue.int(int(value))
    return metadata
