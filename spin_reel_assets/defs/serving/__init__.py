"""Serving: hybrid Top-N Parquet for the web app and the offline evaluation."""
