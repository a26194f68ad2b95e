"""Ingest benchmark: rows/s of each step, beside a raw `psql \\copy` of the same rows in the same run.

    python bench/ingest.py [--ratings 5000000]     (make bench-ingest)

Runs on the bundled sample and on a synthetic MovieLens-layout file of --ratings rows (generated once, cached under
.state/bench-data). Prints a table and a JSON line. The goal: the ratings load at >= 70% of raw \\copy throughput.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv

from spin_reel_assets.cleaning.inputs import find_input, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map
from spin_reel_assets.io_managers.mongo import arrow_documents, replace_collection
from spin_reel_assets.io_managers.postgres import replace_table
from spin_reel_assets.defs.stores.assets import movie_documents
from spin_reel_assets.schema import MOVIES_COLLECTION, RATINGS_TABLE

from bench_data import bench_stores, dataset

def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def raw_copy_seconds(url: str, table, workdir: Path) -> float:
    """psql \\copy of the same rows from a CSV file into a bare table (no key, no index): the reference."""
    path = workdir / "ratings.csv"
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute("CREATE TABLE bench_raw_copy (user_id integer, tmdb_id integer, rating real, rated_at timestamptz)")
    started = time.perf_counter()
    subprocess.run(["psql", url, "-q", "-c", f"\\copy bench_raw_copy FROM '{path}' WITH (FORMAT csv)"], check=True)
    seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_raw_copy")
    return seconds


def raw_insert_seconds(mongo_db, documents) -> float:
    """Plain ``insert_many`` of the same documents (converted beforehand, not timed) into a bare collection: no
    staging, no secondary index, no rename. The reference for the server's own write rate."""
    batches = list(arrow_documents(documents))
    collection = mongo_db["bench_raw_insert"]
    collection.drop()
    started = time.perf_counter()
    for batch in batches:
        collection.insert_many(batch, ordered=False)
    seconds = time.perf_counter() - started
    collection.drop()
    return seconds


def bench(label: str, data_dir: Path, url: str, mongo_db, workdir: Path) -> dict:
    figures = {"dataset": label}
    links, _ = timed(lambda: read_links(find_input(data_dir, "links")))
    key_map = movie_key_map(links)
    raw, read_s = timed(lambda: read_ratings(find_input(data_dir, "ratings")))
    rows = raw.table.num_rows
    cleaned, clean_s = timed(lambda: clean_ratings(raw, key_map))
    figures.update(ratings=rows, read_rows_s=rows / read_s, clean_rows_s=rows / clean_s)
    with psycopg.connect(url) as conn:
        stats, _ = timed(lambda: replace_table(conn, RATINGS_TABLE, cleaned.table))
    loaded = cleaned.table.num_rows
    raw_s = raw_copy_seconds(url, cleaned.table, workdir)
    figures.update(
        load_rows=loaded,
        load_copy_rows_s=loaded / stats["copy_seconds"],
        load_total_rows_s=loaded / stats["total_seconds"],
        psql_copy_rows_s=loaded / raw_s,
    )
    figures["copy_vs_psql"] = figures["load_copy_rows_s"] / figures["psql_copy_rows_s"]
    figures["total_vs_psql"] = figures["load_total_rows_s"] / figures["psql_copy_rows_s"]
    tmdb_path = find_input(data_dir, "tmdb")
    if tmdb_path is not None:
        index = MovieLensIndex(read_movielens_movies(find_input(data_dir, "movies")), key_map)
        tmdb_raw, tmdb_read_s = timed(lambda: read_tmdb(tmdb_path))
        movies, tmdb_clean_s = timed(lambda: clean_tmdb(tmdb_raw, index))
        n = tmdb_raw.table.num_rows
        documents = movie_documents(movies.table)
        _, mongo_s = timed(lambda: replace_collection(mongo_db, MOVIES_COLLECTION, documents))
        raw_mongo_s = raw_insert_seconds(mongo_db, documents)
        figures.update(tmdb_rows=n, tmdb_read_rows_s=n / tmdb_read_s, tmdb_clean_rows_s=n / tmdb_clean_s,
                       mongo_docs_s=documents.num_rows / mongo_s, mongo_raw_docs_s=documents.num_rows / raw_mongo_s)
        figures["mongo_vs_raw"] = figures["mongo_docs_s"] / figures["mongo_raw_docs_s"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=5_000_000, help="rows of the larger synthetic file")
    args = parser.parse_args()
    import pymongo

    results = []
    with bench_stores() as (url, mongo_uri, name, work):
        client = pymongo.MongoClient(mongo_uri)
        try:
            for label, folder in (dataset(0), dataset(args.ratings)):
                results.append(bench(label, folder, url, client[name], work))
        finally:
            client.close()
    columns = ["ratings", "read_rows_s", "clean_rows_s", "load_copy_rows_s", "load_total_rows_s", "psql_copy_rows_s",
               "copy_vs_psql", "total_vs_psql", "tmdb_rows", "tmdb_read_rows_s", "tmdb_clean_rows_s", "mongo_docs_s", "mongo_raw_docs_s", "mongo_vs_raw"]
    print(f"{'':22}" + "".join(f"{r['dataset']:>24}" for r in results))
    for column in columns:
        cells = [r.get(column) for r in results]
        print(f"{column:22}" + "".join(f"{c:>24.2f}" if isinstance(c, float) and c < 10 else f"{c:>24,.0f}" if c is not None else f"{'-':>24}" for c in cells))
    print(json.dumps({"bench": "ingest", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
