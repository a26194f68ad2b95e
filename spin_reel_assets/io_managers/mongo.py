"""MongoDB collections written whole: unordered batches into a temporary collection, indexed, renamed over the old.

``rename(..., dropTarget=True)`` is atomic on MongoDB and served by the embedded server, so readers see either the
old collection or the new one, and a failed write leaves the old one in place.
"""


import datetime as dt
import time
import uuid
from typing import Iterator

import dagster as dg
import pyarrow as pa
from pymongo import ASCENDING, DESCENDING, IndexModel

from spin_reel_assets.resources import MongoResource
from spin_reel_assets.schema import COLLECTIONS, CollectionSpec

BATCH_SIZE = 5_000


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


def replace_collection(database, spec: CollectionSpec, table: pa.Table, batch_size: int = BATCH_SIZE) -> dict[str, float]:
    """Write ``table`` (with an ``_id`` column) as the whole of collection ``spec.name``, atomically."""
    if "_id" not in table.column_names:
        raise ValueError(f"collection {spec.name}: documents need an _id column")
    temporary = database[f"{spec.name}__staging_{uuid.uuid4().hex[:8]}"]
    started = time.perf_counter()
    try:
        for documents in arrow_documents(table, batch_size):
            temporary.insert_many(documents, ordered=False)
        inserted = time.perf_counter()
        if spec.indexes:
            temporary.create_indexes(
                [IndexModel([(field, ASCENDING if order == 1 else DESCENDING) for field, order in keys]) for keys in spec.indexes]
            )
        count = temporary.estimated_document_count()
        if count != table.num_rows:
            raise RuntimeError(f"collection {spec.name}: wrote {count} documents, expected {table.num_rows}")
        temporary.rename(spec.name, dropTarget=True)
    except BaseException:
        temporary.drop()
        raise
    return {"documents": table.num_rows, "insert_seconds": inserted - started, "total_seconds": time.perf_counter() - started}


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
            }
        )

    def load_input(self, context: dg.InputContext) -> pa.Table:
        spec = self._spec(context.upstream_output)
        fields = (context.definition_metadata or {}).get("fields")
        with self.mongo.get_database() as database:
            return read_collection(database, spec, fields)
