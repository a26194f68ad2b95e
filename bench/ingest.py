"""Ingest benchmark: rows/s of each step, beside a raw `psql \\copy` of the same rows in the same run.

    python bench/ingest.py [--ratings 5000000]     (make bench-ingest)

Runs on the bundled sample and on a synthetic MovieLens-layout file of --ratings rows (generated once, cached under
.state/bench-data). Prints a table and a JSON line. The goal: the ratings load at >= 70% of raw \\copy throughput.

The PostgreSQL load and read-back are measured beside alternatives, in --rounds alternating rounds on the same rows
(the machine is shared, so each ratio is taken within one round): the load (binary COPY built with numpy) beside
adbc-driver-postgresql's ``adbc_ingest`` into a staging table of the same column types, which is slower and so not
used; the read-back (ADBC ``fetch_arrow_table``) beside the CSV COPY parsed with pyarrow that it replaced.
"""

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from spin_reel_assets.cleaning.inputs import find_input, read_links, read_movielens_movies, read_ratings
from spin_reel_assets.cleaning.movies import MovieLensIndex, clean_tmdb, read_tmdb
from spin_reel_assets.cleaning.ratings import clean_ratings, movie_key_map
from spin_reel_assets.io_managers.mongo import arrow_documents, replace_collection
from spin_reel_assets.io_managers.postgres import arrow_schema, read_table, replace_table
from spin_reel_assets.resources import PostgresResource
from spin_reel_assets.defs.stores.assets import movie_documents
from spin_reel_assets.schema import MOVIES_COLLECTION, RATINGS_TABLE, TableSpec

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
    path.unlink()
    return seconds


def adbc_ingest_seconds(url: str, spec: TableSpec, table: pa.Table) -> float:
    """The COPY phase of the load through ADBC: ``adbc_ingest`` into a staging table created with the spec's column
    types (NOT NULL included), in one transaction, as today's load does. Times the ingest only, like copy_seconds."""
    staging = f"{spec.name}__adbc_staging"
    definition = ", ".join(f'"{name}" {column_type}' for name, column_type in spec.columns)
    data = table.select(spec.column_names)
    with adbc.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{staging}"')
        cur.execute(f'CREATE TABLE "{staging}" ({definition})')
        started = time.perf_counter()
        ingested = cur.adbc_ingest(staging, data, mode="append")
        seconds = time.perf_counter() - started
        cur.execute(f'SELECT count(*) FROM "{staging}"')
        assert ingested in (-1, data.num_rows) and cur.fetchone()[0] == data.num_rows
        cur.execute(f'DROP TABLE "{staging}"')
        conn.commit()
    return seconds


def csv_copy_read(conn, spec: TableSpec) -> pa.Table:
    """The read-back ADBC replaced: COPY TO STDOUT as CSV into memory, parsed with pyarrow (fixed-width columns, as
    the ratings table has)."""
    query = sql.SQL("COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, spec.column_names)), sql.Identifier(spec.name),
        sql.SQL(", ").join(map(sql.Identifier, spec.primary_key)),
    )
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(query) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    schema = arrow_schema(spec)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=spec.column_names),
        convert_options=pacsv.ConvertOptions(column_types={f.name: f.type for f in schema}, strings_can_be_null=True,
                                             quoted_strings_can_be_null=False),
    ).cast(schema)


def raw_read_seconds(url: str, spec: TableSpec, workdir: Path) -> float:
    """psql \\copy of the whole table, in the same order, out to a CSV file: the read-back reference."""
    path = workdir / "read_back.csv"
    query = f"SELECT {', '.join(spec.column_names)} FROM {spec.name} ORDER BY {', '.join(spec.primary_key)}"
    started = time.perf_counter()
    subprocess.run(["psql", url, "-q", "-c", f"\\copy ({query}) TO '{path}' WITH (FORMAT csv)"], check=True)
    seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def postgres_rounds(url: str, table: pa.Table, workdir: Path, rounds: int) -> dict:
    """Load and read-back of the same rows, ours vs the alternative vs psql \\copy, in alternating order per round."""
    spec = RATINGS_TABLE
    n = table.num_rows
    loads, reads = [], []

    def today_load():
        with psycopg.connect(url) as conn:
            return replace_table(conn, spec, table)

    def adbc_read():  # the product's read-back, with the connection it opens
        with PostgresResource(url=url).connect_arrow() as conn:
            return read_table(conn, spec)

    def csv_read():
        with psycopg.connect(url) as conn:
            return csv_copy_read(conn, spec)

    load_steps = {"today": today_load, "adbc": lambda: adbc_ingest_seconds(url, spec, table),
                  "psql": lambda: raw_copy_seconds(url, table, workdir)}
    read_steps = {"adbc": lambda: timed(adbc_read)[1], "csv": lambda: timed(csv_read)[1],
                  "psql": lambda: raw_read_seconds(url, spec, workdir)}
    today_load()  # the table the reads read, and a warm server for the first round
    assert adbc_read().equals(csv_read()), "the ADBC read-back differs from the CSV COPY one"
    for round_ in range(rounds):
        order = ["today", "adbc", "psql"] if round_ % 2 == 0 else ["psql", "adbc", "today"]
        load = {step: load_steps[step]() for step in order}
        stats = load["today"]
        loads.append({"order": order, "today_copy_s": stats["copy_seconds"], "today_total_s": stats["total_seconds"],
                      "adbc_copy_s": load["adbc"], "psql_copy_s": load["psql"]})
        order = ["adbc", "csv", "psql"] if round_ % 2 == 0 else ["psql", "csv", "adbc"]
        read = {step: read_steps[step]() for step in order}
        reads.append({"order": order, "adbc_read_s": read["adbc"], "csv_read_s": read["csv"], "psql_read_s": read["psql"]})

    def median(values):
        values = sorted(values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    def ratios(rows, subject, reference):
        """Per round, the subject's throughput over the reference's (the inverse of their seconds)."""
        return [r[reference] / r[subject] for r in rows]

    return {
        "load_copy_rows_s": n / median([r["today_copy_s"] for r in loads]),
        "load_total_rows_s": n / median([r["today_total_s"] for r in loads]),
        "psql_copy_rows_s": n / median([r["psql_copy_s"] for r in loads]),
        "adbc_copy_rows_s": n / median([r["adbc_copy_s"] for r in loads]),
        "copy_vs_psql": median(ratios(loads, "today_copy_s", "psql_copy_s")),
        "total_vs_psql": median(ratios(loads, "today_total_s", "psql_copy_s")),
        "adbc_copy_vs_psql": median(ratios(loads, "adbc_copy_s", "psql_copy_s")),
        "adbc_copy_vs_today": median(ratios(loads, "adbc_copy_s", "today_copy_s")),
        "adbc_read_rows_s": n / median([r["adbc_read_s"] for r in reads]),
        "csv_read_rows_s": n / median([r["csv_read_s"] for r in reads]),
        "psql_read_rows_s": n / median([r["psql_read_s"] for r in reads]),
        "adbc_read_vs_psql": median(ratios(reads, "adbc_read_s", "psql_read_s")),
        "csv_read_vs_psql": median(ratios(reads, "csv_read_s", "psql_read_s")),
        "adbc_read_vs_csv": median(ratios(reads, "adbc_read_s", "csv_read_s")),
        "rounds": {"load": loads, "read": reads},
    }


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


def bench(label: str, data_dir: Path, url: str, mongo_db, workdir: Path, rounds: int) -> dict:
    figures = {"dataset": label}
    links, _ = timed(lambda: read_links(find_input(data_dir, "links")))
    key_map = movie_key_map(links)
    raw, read_s = timed(lambda: read_ratings(find_input(data_dir, "ratings")))
    rows = raw.table.num_rows
    cleaned, clean_s = timed(lambda: clean_ratings(raw, key_map))
    figures.update(ratings=rows, read_rows_s=rows / read_s, clean_rows_s=rows / clean_s)
    figures.update(load_rows=cleaned.table.num_rows, **postgres_rounds(url, cleaned.table, workdir, rounds))
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
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the PostgreSQL load and read-back (>= 2)")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: the ratios are only worth something measured alternately")
    import pymongo

    results = []
    with bench_stores() as (url, mongo_uri, name, work):
        client = pymongo.MongoClient(mongo_uri)
        try:
            for label, folder in (dataset(0), dataset(args.ratings)):
                results.append(bench(label, folder, url, client[name], work, args.rounds))
        finally:
            client.close()
    columns = ["ratings", "read_rows_s", "clean_rows_s", "load_copy_rows_s", "load_total_rows_s", "psql_copy_rows_s",
               "copy_vs_psql", "total_vs_psql", "adbc_copy_rows_s", "adbc_copy_vs_psql", "adbc_copy_vs_today",
               "adbc_read_rows_s", "csv_read_rows_s", "psql_read_rows_s", "adbc_read_vs_psql", "csv_read_vs_psql",
               "adbc_read_vs_csv", "tmdb_rows", "tmdb_read_rows_s", "tmdb_clean_rows_s", "mongo_docs_s", "mongo_raw_docs_s", "mongo_vs_raw"]
    print(f"{'':22}" + "".join(f"{r['dataset']:>24}" for r in results))
    for column in columns:
        cells = [r.get(column) for r in results]
        print(f"{column:22}" + "".join(f"{c:>24.2f}" if isinstance(c, float) and c < 10 else f"{c:>24,.0f}" if c is not None else f"{'-':>24}" for c in cells))
    print(json.dumps({"bench": "ingest", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
