"""Models: Spark ALS from PostgreSQL and the FAISS content index from MongoDB."""
