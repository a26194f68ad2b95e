"""Ingest: the input files, observed by content hash, cleaned into typed Parquet with a quarantine."""
