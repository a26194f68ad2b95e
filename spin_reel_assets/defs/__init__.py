"""Dagster definitions, autoloaded by stage: ingest → stores → models → serving."""
