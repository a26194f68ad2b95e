"""Stores: the clean tables in PostgreSQL and MongoDB (dual persistence)."""
