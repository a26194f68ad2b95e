"""MongoDB collections written whole: unordered batches into a temporary collection, indexed, renamed over the old.

``rename(..., dropTarget=True)`` is atomic on MongoDB and served by the embedded server, so readers see either the
old collection or the new one, and a failed write leaves the old one in place.

A write killed outright (kill -9, a lost machine) cannot drop its temporary collection, so every write first drops
the stale ones: each temporary collection holds a lease document whose heartbeat its writer refreshes from a
background thread; one whose heartbeat is older than ``stale_after`` seconds (or that has none) belongs to a dead
writer. A live concurrent write keeps its collection.
"""


import datetime as dt
import threading
import time
import uuid
from typing import Iterator

import dagster as dg
import pyarrow as pa
from pymongo import ASCENDING, DESCENDING, IndexModel

from spin_reel_assets.resources import MongoResource
from spin_reel_assets.schema import COLLECTIONS, CollectionSpec

BATCH_SIZE = 5_000
STAGING_INFIX = "__staging_"
LEASE_ID = "__staging_lease__"  # a string _id: never one of the documents' (integer) ids
STALE_AFTER_SECONDS = 120.0  # heartbeats come every eighth of it; the margin covers clock skew between writers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def drop_stale_staging(database, spec: CollectionSpec, stale_after: float = STALE_AFTER_SECONDS) -> list[str]:
    """Drop the temporary collections of ``spec`` left by writers that died; returns their names."""
    dropped = []
    for name in database.list_collection_names():
        if not name.startswith(f"{spec.name}{STAGING_INFIX}"):
            continue
        lease = database[name].find_one({"_id": LEASE_ID}) or {}
        beat = lease.get("heartbeat")
        if beat is not None and beat.tzinfo is None:  # a client without tz_aware reads UTC as naive
            beat = beat.replace(tzinfo=dt.timezone.utc)
        if beat is None or (_now() - beat).total_seconds() > stale_after:
            database[name].drop()
            dropped.append(name)
    return dropped


class _Heartbeat(threading.Thread):
    """Refreshes a temporary collection's lease until stopped, so other writers know its writer is alive."""

    def __init__(self, collection, interval: float):
        super().__init__(daemon=True, name=f"lease {collection.name}")
        self.collection, self.interval, self.stopped = collection, interval, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.collection.update_one({"_id": LEASE_ID}, {"$set": {"heartbeat": _now()}})
            except Exception:  # noqa: BLE001 - a missed beat only risks the write; the write itself reports the outage
                pass

    def stop(self) -> None:
        self.stopped.set()
        if self.ident is not None:
            self.join()


def arrow_documents(table: pa.Table, batch_size: int = BATCH_SIZE) -> Iterator[list[dict]]:
    """Rows of an Arrow table as BSON-ready documents, a batch at a time (dates become datetimes)."""
    date_columns = [f.name for f in table.schema if pa.types.is_date(f.type)]
    for batch in table.to_batches(max_chunksize=batch_size):
        documents = batch.to_pylist()
        for document in documents:
            for name in date_columns:
                value = document[name]
                if value is not None:
                    document[name] = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        yield documents


def replace_collection(database, spec: CollectionSpec, table: pa.Table, batch_size: int = BATCH_SIZE,
                       stale_after: float = STALE_AFTER_SECONDS) -> dict:
    """Write ``table`` (with an ``_id`` column) as the whole of collection ``spec.name``, atomically.

    First drops the temporary collections that dead writers left (``stale_staging_dropped`` in the result)."""
    if "_id" not in table.column_names:
        raise ValueError(f"collection {spec.name}: documents need an _id column")
    dropped = drop_stale_staging(database, spec, stale_after)
    temporary = database[f"{spec.name}{STAGING_INFIX}{uuid.uuid4().hex[:8]}"]
    started = time.perf_counter()
    heartbeat = _Heartbeat(temporary, stale_after / 8)
    try:
        temporary.insert_one({"_id": LEASE_ID, "heartbeat": _now()})  # before any document: never a lease-less write
        heartbeat.start()
        for documents in arrow_documents(table, batch_size):
            temporary.insert_many(documents, ordered=False)
        inserted = time.perf_counter()
        if spec.indexes:
            temporary.create_indexes(
                [IndexModel([(field, ASCENDING if order == 1 else DESCENDING) for field, order in keys]) for keys in spec.indexes]
            )
        heartbeat.stop()
        temporary.delete_one({"_id": LEASE_ID})
        count = temporary.estimated_document_count()
        if count != table.num_rows:
            raise RuntimeError(f"collection {spec.name}: wrote {count} documents, expected {table.num_rows}")
        temporary.rename(spec.name, dropTarget=True)
    except BaseException:
        heartbeat.stop()
        temporary.drop()
        raise
    return {"documents": table.num_rows, "insert_seconds": inserted - started, "total_seconds": time.perf_counter() - started,
            "stale_staging_dropped": dropped}


def read_collection(database, spec: CollectionSpec, fields: list[str] | None = None) -> pa.Table:
    """The collection as an Arrow table, ordered by _id (optionally only some fields).

    Read in natural order and sorted here: a server-side sort is a blocking in-memory sort on SecantusDB (twice
    the read time) and, on MongoDB, a fetch in _id order; neither is needed to read every document."""
    projection = None if fields is None else {name: 1 for name in fields}
    table = pa.Table.from_pylist(list(database[spec.name].find({}, projection).batch_size(BATCH_SIZE)))
    return table.sort_by("_id") if table.num_rows else table


class MongoCollectionIOManager(dg.ConfigurableIOManager):
    """Writes an Arrow table as the MongoDB collection named by the asset's ``collection`` metadata; loads it back.

    An input may ask for only some fields with input metadata ``fields``.
    """

    mongo: dg.ResourceDependency[MongoResource]
    batch_size: int = BATCH_SIZE

    @staticmethod
    def _spec(context) -> CollectionSpec:
        name = (context.definition_metadata or {}).get("collection")
        if name not in COLLECTIONS:
            raise dg.DagsterInvariantViolationError(
                f"asset {context.asset_key.to_user_string()} needs metadata collection= one of {sorted(COLLECTIONS)}"
            )
        return COLLECTIONS[name]

    def handle_output(self, context: dg.OutputContext, obj: pa.Table) -> None:
        spec = self._spec(context)
        with self.mongo.get_database() as database:
            stats = replace_collection(database, spec, obj, self.batch_size)
        context.add_output_metadata(
            {
                "collection": spec.name,
                "uri": f"{self.mongo.safe_uri}/{self.mongo.database}",
                "documents": dg.MetadataValue.int(obj.num_rows),
                "indexes": ", ".join("+".join(f for f, _ in keys) for keys in spec.indexes),
                "write_seconds": dg.MetadataValue.float(round(stats["total_seconds"], 3)),
                "stale_staging_dropped": ", ".join(stats["stale_staging_dropped"]) or "none",
            }
        )

    def load_input(self, context: dg.InputContext) -> pa.Table:
        spec = self._spec(context.upstream_output)
        fields = (context.definition_metadata or {}).get("fields")
        with self.mongo.get_database() as database:
            return read_collection(database, spec, fields)
