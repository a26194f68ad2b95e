"""IO managers and their store writes against real PostgreSQL and the MongoDB-wire server."""

import datetime as dt
import threading

import dagster as dg
import numpy as np
import psycopg
import pyarrow as pa
import pymongo
import pytest

from spin_reel_assets.cleaning.quarantine import Cleaned, Quarantine
from spin_reel_assets.io_managers.mongo import MongoCollectionIOManager, read_collection, replace_collection
from spin_reel_assets.io_managers.parquet import ParquetIOManagerFactory
from spin_reel_assets.io_managers.postgres import PostgresTableIOManager, arrow_schema, read_table, replace_table
from spin_reel_assets.resources import MongoResource, PostgresResource
from spin_reel_assets.schema import MOVIES_COLLECTION, MOVIES_TABLE, RATINGS_TABLE

pytestmark = pytest.mark.stores


def ratings(n: int, seed: int = 0, rating_offset: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, n // 10 + 1), 10)[:n]
    movies = np.tile(np.arange(1, 11), n // 10 + 1)[:n] * 100
    return pa.table({
        "user_id": pa.array(users, pa.int32()),
        "tmdb_id": pa.array(movies, pa.int32()),
        "rating": pa.array(np.clip(rng.integers(1, 11, n) / 2 + rating_offset, 0.5, 5.0), pa.float32()),
        "rated_at": pa.array(rng.integers(0, 1_600_000_000, n).astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC")),
    })


def table_state(conn) -> tuple:
    count, total = conn.execute("SELECT count(*), sum(rating) FROM ratings").fetchone()
    indexes = sorted(r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'ratings'"))
    return count, total, indexes


def test_postgres_round_trip_and_idempotent_reload(postgres_url):
    data = ratings(5_000)
    with psycopg.connect(postgres_url) as conn:
        stats = replace_table(conn, RATINGS_TABLE, data)
        assert stats["rows"] == 5_000 and stats["format"] == "binary"
        first = table_state(conn)
        assert first[2] == ["ratings_pkey", "ratings_tmdb_id_idx"]
        with PostgresResource(url=postgres_url).connect_arrow() as arrow_conn:
            back = read_table(arrow_conn, RATINGS_TABLE)
        assert back.num_rows == 5_000
        assert back.schema == arrow_schema(RATINGS_TABLE) and not any(f.metadata for f in back.schema)
        order = [("user_id", "ascending"), ("tmdb_id", "ascending")]
        assert back.sort_by(order).to_pylist() == data.sort_by(order).to_pylist()  # every value, timestamps too
        replace_table(conn, RATINGS_TABLE, data)
        assert table_state(conn) == first  # the same data twice gives the same table
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'ratings'::regclass AND i.indisprimary ORDER BY a.attname").fetchall()
        assert [k[0] for k in key] == ["tmdb_id", "user_id"]


@pytest.mark.parametrize("breakage", ["null in the middle of the COPY", "duplicate key found when indexing"])
def test_a_load_broken_half_way_leaves_the_previous_table_intact(postgres_url, breakage):
    with psycopg.connect(postgres_url) as conn:
        replace_table(conn, RATINGS_TABLE, ratings(20_000))
        before = table_state(conn)
        bad = ratings(20_000, seed=1, rating_offset=0.5)
        if breakage.startswith("null"):
            column = bad.column("rating").to_pylist()
            column[10_000] = None
            bad = bad.set_column(2, "rating", pa.array(column, pa.float32()))
        else:
            bad = pa.concat_tables([bad, bad.slice(15_000, 1)])
        with pytest.raises(psycopg.Error):
            replace_table(conn, RATINGS_TABLE, bad)
        assert table_state(conn) == before
        assert conn.execute("SELECT to_regclass('ratings__staging')").fetchone()[0] is None


def test_readers_see_the_old_table_until_the_swap_commits(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        replace_table(conn, RATINGS_TABLE, ratings(1_000))
    counts, stop = [], threading.Event()

    def read_while_loading():
        with psycopg.connect(postgres_url, autocommit=True) as reader:
            while not stop.is_set():
                counts.append(reader.execute("SELECT count(*) FROM ratings").fetchone()[0])

    thread = threading.Thread(target=read_while_loading)
    thread.start()
    try:
        with psycopg.connect(postgres_url) as conn:
            replace_table(conn, RATINGS_TABLE, ratings(200_000))
    finally:
        stop.set()
        thread.join()
    assert counts and set(counts) <= {1_000, 200_000}  # never a half-loaded table


def test_postgres_arrays_are_real_arrays(postgres_url):
    movies = pa.table({"tmdb_id": [862, 603], "title": ["Toy Story", 'Quote " and \\ slash'], "year": pa.array([1995, None], pa.int32()),
                       "genres": [["Animation", "Family"], []], "runtime": pa.array([81, None], pa.int32())})
    with psycopg.connect(postgres_url) as conn:
        replace_table(conn, MOVIES_TABLE, movies)
        assert conn.execute("SELECT genres FROM movies WHERE %s = ANY(genres)", ("Animation",)).fetchall() == [(["Animation", "Family"],)]
    with PostgresResource(url=postgres_url).connect_arrow() as arrow_conn:
        assert read_table(arrow_conn, MOVIES_TABLE).to_pylist() == movies.sort_by("tmdb_id").to_pylist()


def test_the_arrow_connection_gets_the_connect_timeout_unless_the_url_sets_one():
    assert PostgresResource(url="postgresql://reel@db:6432/spin_reel?sslmode=require", connect_timeout=7).arrow_url == (
        "postgresql://reel@db:6432/spin_reel?sslmode=require&connect_timeout=7")
    assert PostgresResource(url="postgresql://reel@db/spin_reel?connect_timeout=3").arrow_url == "postgresql://reel@db/spin_reel?connect_timeout=3"


def documents(n: int, title_prefix: str = "Movie") -> pa.Table:
    return pa.table({
        "_id": pa.array(np.arange(1, n + 1), pa.int64()),
        "title": [f"{title_prefix} {i}" for i in range(1, n + 1)],
        "title_lower": [f"{title_prefix.lower()} {i}" for i in range(1, n + 1)],
        "genres": [["Drama", "Comedy"] if i % 2 else [] for i in range(n)],
        "release_date": pa.array([dt.date(2000, 1, 1 + i % 28) for i in range(n)], pa.date32()),
        "popularity": pa.array(np.linspace(0, 1, n)),
        "vote_count": pa.array(np.arange(n), pa.int64()), "year": pa.array([2000] * n, pa.int32()),
        "movielens_ids": [[i] for i in range(n)],
    })


def test_mongo_round_trip_indexes_and_prefix_search(mongo_uri, mongo_db):
    client = pymongo.MongoClient(mongo_uri, tz_aware=True)
    database = client[mongo_db]
    replace_collection(database, MOVIES_COLLECTION, documents(12_000), batch_size=5_000)
    movies = database[MOVIES_COLLECTION.name]
    assert movies.count_documents({}) == 12_000
    second = movies.find_one({"_id": 2})
    assert second["genres"] == ["Drama", "Comedy"] and second["release_date"] == dt.datetime(2000, 1, 2, tzinfo=dt.timezone.utc)
    keys = {tuple(spec["key"]) for spec in movies.index_information().values()}
    for index in MOVIES_COLLECTION.indexes:
        assert tuple(index) in keys
    assert [d["_id"] for d in movies.find({"title_lower": {"$regex": "^movie 1199"}}).sort("_id")] == [1199, 11990, 11991, 11992, 11993, 11994, 11995, 11996, 11997, 11998, 11999]
    back = read_collection(database, MOVIES_COLLECTION, ["_id", "genres"])
    assert back.num_rows == 12_000 and back.column("genres").to_pylist()[:2] == [[], ["Drama", "Comedy"]]
    # rewriting replaces the whole collection (no leftovers) and leaves no temporary collection behind
    replace_collection(database, MOVIES_COLLECTION, documents(10, "Film"))
    assert movies.count_documents({}) == 10 and movies.find_one({"_id": 1})["title"] == "Film 1"
    assert [name for name in database.list_collection_names() if "staging" in name] == []
    # read back in _id order whatever order the documents were written in
    replace_collection(database, MOVIES_COLLECTION, documents(10).take(pa.array([3, 9, 0, 7, 1, 8, 2, 6, 4, 5])))
    assert read_collection(database, MOVIES_COLLECTION, ["_id"]).column("_id").to_pylist() == list(range(1, 11))
    client.close()


def test_a_failed_mongo_write_keeps_the_old_collection(mongo_uri, mongo_db):
    client = pymongo.MongoClient(mongo_uri)
    database = client[mongo_db]
    replace_collection(database, MOVIES_COLLECTION, documents(100))
    broken = pa.concat_tables([documents(50), documents(50)])  # duplicate _id: the write fails
    with pytest.raises(Exception):
        replace_collection(database, MOVIES_COLLECTION, broken)
    assert database[MOVIES_COLLECTION.name].count_documents({}) == 100
    assert [name for name in database.list_collection_names() if "staging" in name] == []
    client.close()


def test_io_managers_write_and_load_through_dagster(tmp_path, postgres_url, mongo_uri, mongo_db):
    """Each IO manager loads what it wrote: downstream assets read from the store, not from memory."""
    postgres = PostgresResource(url=postgres_url)
    mongo = MongoResource(uri=mongo_uri, database=mongo_db)

    @dg.asset(io_manager_key="parquet")
    def cleaned() -> Cleaned:
        quarantine = Quarantine()
        quarantine.add(7, "rating", "out of range", "1,2,9,3")
        return Cleaned(ratings(100), quarantine.table())

    @dg.asset(io_manager_key="pg", metadata={"table": "ratings"})
    def table(cleaned: pa.Table) -> pa.Table:
        return cleaned

    @dg.asset(io_manager_key="mongo", metadata={"collection": "movies"})
    def collection() -> pa.Table:
        return documents(30)

    seen = {}

    @dg.asset
    def reader(table: pa.Table, collection: pa.Table) -> None:
        seen["rows"], seen["documents"] = table.num_rows, collection.num_rows

    @dg.asset(ins={"cleaned": dg.AssetIn(metadata={"columns": ["rating", "user_id"]})})
    def narrow_reader(cleaned: pa.Table) -> None:
        seen["columns"] = cleaned.column_names

    result = dg.materialize(
        [cleaned, table, collection, reader, narrow_reader],
        resources={"parquet": ParquetIOManagerFactory(base_path=str(tmp_path)),
                   "pg": PostgresTableIOManager(postgres=postgres), "mongo": MongoCollectionIOManager(mongo=mongo)},
    )
    assert result.success
    assert seen == {"rows": 100, "documents": 30, "columns": ["rating", "user_id"]}
    assert (tmp_path / "cleaned.parquet").exists()
    quarantine = pa.parquet.read_table(tmp_path / "cleaned.quarantine.parquet")
    assert quarantine.to_pylist() == [{"line": 7, "field": "rating", "reason": "out of range", "raw": "1,2,9,3"}]
    metadata = result.asset_materializations_for_node("table")[0].metadata
    assert metadata["rows"].value == 100 and "***" not in metadata["database"].value


def test_a_blocked_output_never_reaches_a_store_in_any_later_run(tmp_path, postgres_url, mongo_uri, mongo_db):
    """Half the rows of a new ratings file are garbage: clean_ratings' blocking check fails, so clean_ratings is not
    materialized (its output is never stored) and ratings_table keeps the previous table. A later run that selects
    ratings_table alone loads the last output that passed, never the blocked one."""
    import shutil

    from spin_reel_assets.definitions import defs

    from .conftest import SAMPLE_DIR, resources_for

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SAMPLE_DIR / "links.csv.gz", data)
    header = "userId,movieId,rating,timestamp"
    (data / "ratings.csv").write_text("\n".join([header] + [f"{u},1,4.0,964982703" for u in range(1, 301)]) + "\n")
    assets = list(defs().assets)
    resources = resources_for(postgres_url, mongo_uri, mongo_db, tmp_path / "artifacts", data)
    both = dg.AssetSelection.assets("clean_ratings", "ratings_table")
    assert dg.materialize(assets, resources=resources, selection=both).success

    lines = [header] + [f"{u},1,{'4.0' if u % 2 else 'oops'},964982703" for u in range(1, 201)]
    (data / "ratings.csv").write_text("\n".join(lines) + "\n")
    result = dg.materialize(assets, resources=resources, raise_on_error=False, selection=both)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["clean_ratings_are_sound"].passed is False
    assert checks["clean_ratings_are_sound"].metadata["quarantined"].value == 100
    assert not result.get_asset_materialization_events()
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "ratings.csv: blocking check clean_ratings_are_sound failed" in failure.step_failure_data.error.message

    later = dg.materialize(assets, resources=resources, selection=dg.AssetSelection.assets("ratings_table"))
    assert later.success
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (300,)


def test_without_links_or_tmdb_the_stores_hold_movielens_titles(tmp_path, postgres_url, mongo_uri, mongo_db):
    """An ML-1M-style folder (ratings.dat, movies.dat): no links, no TMDB file, and the graph still fills both stores."""
    from spin_reel_assets.definitions import defs

    from .conftest import resources_for

    data = tmp_path / "ml-1m"
    data.mkdir()
    (data / "ratings.dat").write_text("".join(f"{u}::{m}::{(u + m) % 5 + 1}::97830{u}{m}\n" for u in range(1, 31) for m in (1, 2, 3)))
    (data / "movies.dat").write_bytes("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Matrix, The (1999)::Sci-Fi\n"
                                      "3::Amélie (2001)::Comedy|Romance\n".encode("latin-1"))
    resources = resources_for(postgres_url, mongo_uri, mongo_db, tmp_path / "artifacts", data)
    result = dg.materialize(list(defs().assets), resources=resources,
                            selection=dg.AssetSelection.groups("ingest", "stores"))
    assert result.success
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (90,)
        assert conn.execute("SELECT title, genres FROM movies WHERE tmdb_id = 2").fetchone() == ("The Matrix", ["Science Fiction"])
    client = pymongo.MongoClient(mongo_uri)
    movie = client[mongo_db]["movies"].find_one({"_id": 3})
    assert movie["title"] == "Amélie" and movie["title_lower"] == "amelie" and movie["year"] == 2001
    client.close()


# --- issue 12: store constraints end to end, stale staging --------------------------------------------------------


def test_values_at_the_stores_limits_load_and_values_past_them_never_reach_a_store(tmp_path, postgres_url, mongo_uri, mongo_db):
    """Items 2 and 8 through the ingest half of the graph: a 1e13 s timestamp, an id of 2^31 and a NUL in a title are
    quarantined; the last storable second, id 2^31 - 1 and a NUL-free copy of the rest load, and both stores agree."""
    import csv
    import gzip
    import io
    import shutil

    from spin_reel_assets.definitions import defs

    from .conftest import SAMPLE_DIR, resources_for

    data = tmp_path / "data"
    data.mkdir()
    for name in ("links.csv.gz", "movies.csv.gz"):
        shutil.copy(SAMPLE_DIR / name, data)
    lines = gzip.decompress((SAMPLE_DIR / "ratings.csv.gz").read_bytes()).decode().split("\r\n")
    assert lines[1].startswith("1,1,") and lines[2].startswith("1,3,")
    lines[1] = "1,1,4.0,10000000000000"
    lines[2] = "1,3,4.0,253402300799"
    (data / "ratings.csv").write_text("\r\n".join(lines))
    records = list(csv.reader(io.StringIO(gzip.decompress((SAMPLE_DIR / "TMDB_movie_dataset_v11.csv.gz").read_bytes()).decode(), newline="")))
    header = records[0]
    records[1][header.index("id")] = "2147483647"
    records[2][header.index("title")] = "Inter\x00stellar"
    records[3][header.index("id")] = "2147483648"
    records[4][header.index("overview")] = "NUL \x00"
    records[5][header.index("vote_average")] = "1e999"
    nul_overview, infinite = int(records[4][0]), int(records[5][0])
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(records)
    (data / "TMDB_movie_dataset_v11.csv").write_text(out.getvalue(), encoding="utf-8")

    resources = resources_for(postgres_url, mongo_uri, mongo_db, tmp_path / "artifacts", data)
    result = dg.materialize(list(defs().assets), resources=resources,
                            selection=dg.AssetSelection.groups("ingest", "stores"))
    assert result.success
    client = pymongo.MongoClient(mongo_uri, tz_aware=True)
    movies = client[mongo_db]["movies"]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (100_822 - 1,)
        toy_story_3 = conn.execute("SELECT rated_at FROM ratings WHERE user_id = 1 AND rated_at > '9000-01-01'").fetchall()
        assert toy_story_3 == [(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),)]
        pg_ids = {row[0] for row in conn.execute("SELECT tmdb_id FROM movies")}
    mongo_ids = {doc["_id"] for doc in movies.find({}, {"_id": 1})}
    assert pg_ids == mongo_ids and len(pg_ids) == 13_830 - 2
    assert 2147483647 in pg_ids and 157336 not in pg_ids  # Interstellar (NUL in the title) is quarantined
    assert movies.find_one({"_id": nul_overview})["overview"] == ""
    assert movies.find_one({"_id": infinite})["vote_average"] is None
    client.close()


def _lease(database, name: str, heartbeat):
    from spin_reel_assets.io_managers.mongo import LEASE_ID

    document = {"_id": LEASE_ID} if heartbeat is None else {"_id": LEASE_ID, "heartbeat": heartbeat}
    database[name].insert_one(document)


def test_the_next_mongo_write_drops_dead_writers_staging_and_keeps_a_live_one(mongo_uri, mongo_db):
    client = pymongo.MongoClient(mongo_uri, tz_aware=True)
    database = client[mongo_db]
    now = dt.datetime.now(dt.timezone.utc)
    _lease(database, "movies__staging_dead0001", now - dt.timedelta(hours=1))
    database["movies__staging_nolease1"].insert_one({"_id": 1, "title": "from a writer older than leases"})
    _lease(database, "movies__staging_live0001", now)
    _lease(database, "other__staging_dead0001", now - dt.timedelta(hours=1))  # another collection's: not ours to drop
    stats = replace_collection(database, MOVIES_COLLECTION, documents(10))
    assert sorted(stats["stale_staging_dropped"]) == ["movies__staging_dead0001", "movies__staging_nolease1"]
    assert sorted(n for n in database.list_collection_names() if "staging" in n) == ["movies__staging_live0001", "other__staging_dead0001"]
    assert database["movies"].count_documents({}) == 10
    database.drop_collection("movies__staging_live0001")
    database.drop_collection("other__staging_dead0001")
    client.close()


def test_a_mongo_write_killed_outright_leaves_staging_that_the_next_write_drops(mongo_uri, mongo_db):
    """kill -9 during the document inserts: the old collection stays, and its staging goes with the next write."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    client = pymongo.MongoClient(mongo_uri)
    database = client[mongo_db]
    replace_collection(database, MOVIES_COLLECTION, documents(100))
    script = (
        "import sys, pymongo\n"
        "from tests.test_stores import documents\n"
        "from spin_reel_assets.io_managers.mongo import replace_collection\n"
        "from spin_reel_assets.schema import MOVIES_COLLECTION\n"
        "database = pymongo.MongoClient(sys.argv[1])[sys.argv[2]]\n"
        "replace_collection(database, MOVIES_COLLECTION, documents(400_000), batch_size=1_000, stale_after=2.0)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, mongo_uri, mongo_db], cwd=Path(__file__).resolve().parents[1])
    staging, deadline = None, time.monotonic() + 120
    while staging is None and time.monotonic() < deadline and writer.poll() is None:
        names = [n for n in database.list_collection_names() if n.startswith("movies__staging_")]
        if names and database[names[0]].estimated_document_count() > 5_000:
            staging = names[0]
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert staging is not None, "the writer finished or never started before it could be killed"
    assert staging in database.list_collection_names()
    assert database["movies"].count_documents({}) == 100  # the old collection, untouched
    time.sleep(2.5)  # the dead writer's last heartbeat is now older than its stale_after
    stats = replace_collection(database, MOVIES_COLLECTION, documents(10), stale_after=2.0)
    assert stats["stale_staging_dropped"] == [staging]
    assert [n for n in database.list_collection_names() if "staging" in n] == []
    assert database["movies"].count_documents({}) == 10
    client.close()


def test_a_postgres_load_killed_outright_leaves_no_staging_and_the_old_table(postgres_url):
    """kill -9 during the COPY: PostgreSQL rolls the load back, so the old table stays and no staging table is left."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    with psycopg.connect(postgres_url) as conn:
        replace_table(conn, RATINGS_TABLE, ratings(1_000))
        before = table_state(conn)
    script = (
        "import sys, psycopg\n"
        "from tests.test_stores import ratings\n"
        "from spin_reel_assets.io_managers.postgres import replace_table\n"
        "from spin_reel_assets.schema import RATINGS_TABLE\n"
        "data = ratings(3_000_000)\n"
        "print('loading', flush=True)\n"
        "with psycopg.connect(sys.argv[1]) as conn:\n"
        "    replace_table(conn, RATINGS_TABLE, data)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, postgres_url], cwd=Path(__file__).resolve().parents[1],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "loading"
    with psycopg.connect(postgres_url, autocommit=True) as watcher:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.poll() is None:
            copying = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%ratings__staging%'").fetchone()[0]
            if copying:
                break
            time.sleep(0.02)
        assert writer.poll() is None, "the load finished before it could be killed"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        deadline = time.monotonic() + 30  # the server notices the dead client and rolls back
        while time.monotonic() < deadline and watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%ratings__staging%'").fetchone()[0]:
            time.sleep(0.1)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('ratings__staging')").fetchone()[0] is None
        assert table_state(conn) == before
        replace_table(conn, RATINGS_TABLE, ratings(2_000))
        assert conn.execute("SELECT count(*) FROM ratings").fetchone() == (2_000,)


def test_the_largest_movie_cleaning_lets_through_is_one_mongodb_document(tmp_path, mongo_uri, mongo_db):
    """The document-size bound of TMDB cleaning is one the store keeps: a row just under it, with a long title in
    the indexed title_lower too, is written; one just over it is quarantined by cleaning (test_bad_inputs)."""
    import csv
    import io

    from spin_reel_assets.defs.stores.assets import movie_documents
    from spin_reel_assets.cleaning import movies as m

    header = list(m.TMDB_COLUMNS)
    row = {name: "" for name in header} | {"id": "1", "title": "T" * 100_000, "adult": "False",
                                             "keywords": ", ".join(["k"] * 50_000)}
    budget = m.MAX_DOCUMENT_BYTES - 2 * 100_000 - 16 * 50_001 - 3 * 50_000 - 1_000
    row["overview"] = "o" * budget
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerows([header, [row[name] for name in header]])
    path = tmp_path / "TMDB_movie_dataset_v11.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    cleaned = m.clean_tmdb(m.read_tmdb(path), None)
    assert cleaned.quarantine.num_rows == 0
    client = pymongo.MongoClient(mongo_uri)
    database = client[mongo_db]
    replace_collection(database, MOVIES_COLLECTION, movie_documents(cleaned.table))
    document = database[MOVIES_COLLECTION.name].find_one({"_id": 1})
    assert len(document["overview"]) == budget and len(document["keywords"]) == 50_000
    assert database[MOVIES_COLLECTION.name].find_one({"title_lower": "t" * 100_000}, {"_id": 1}) == {"_id": 1}
    client.close()
