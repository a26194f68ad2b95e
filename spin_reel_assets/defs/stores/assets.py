"""Stores: clean Parquet → the PostgreSQL ratings table and the MongoDB movies collection (dual persistence)."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from spin_reel_assets.conditions import EAGER, OWNERS, priority
from spin_reel_assets.metadata import markdown_preview, table_metadata
from spin_reel_assets.schema import MOVIE_ID, MOVIES_COLLECTION, MOVIES_TABLE, RATINGS_TABLE
from spin_reel_assets.titles import normalize_title

STORE = {"group_name": "stores", "owners": OWNERS, "tags": {"stage": "stores"}, "automation_condition": EAGER}


@dg.asset(
    **STORE,
    kinds={"postgres"},
    code_version="1",
    io_manager_key="postgres_io_manager",
    metadata={"table": RATINGS_TABLE.name},
    op_tags=priority("ratings_table"),
)
def ratings_table(clean_ratings: pa.Table) -> dg.MaterializeResult:
    """PostgreSQL table ``ratings(user_id, tmdb_id, rating, rated_at)``, primary key (user_id, tmdb_id), index on
    tmdb_id. Loaded with COPY into a staging table and swapped in one transaction: readers never see a half-loaded
    table and a failed load leaves the previous one intact."""
    return dg.MaterializeResult(
        value=clean_ratings,
        metadata={
            **table_metadata(clean_ratings),
            "users": dg.MetadataValue.int(len(pc.unique(clean_ratings.column("user_id")))),
            "movies": dg.MetadataValue.int(len(pc.unique(clean_ratings.column(MOVIE_ID)))),
            "preview": markdown_preview(clean_ratings),
        },
    )


@dg.asset(
    **STORE,
    kinds={"postgres"},
    code_version="1",
    io_manager_key="postgres_io_manager",
    metadata={"table": MOVIES_TABLE.name},
    op_tags=priority("movies_table"),
)
def movies_table(clean_movies: pa.Table) -> dg.MaterializeResult:
    """PostgreSQL table ``movies(tmdb_id, title, year, genres text[], runtime)``: the movie facts the web app's
    PostgreSQL view joins with rating averages (genres a real array, never a string)."""
    table = clean_movies.select(MOVIES_TABLE.column_names)
    return dg.MaterializeResult(value=table, metadata=table_metadata(table))


def movie_documents(clean_movies: pa.Table) -> pa.Table:
    """clean_movies as collection rows: ``_id`` = tmdb_id and a normalized title for indexed prefix search."""
    titles = clean_movies.column("title").to_pylist()
    table = clean_movies.rename_columns(["_id" if name == MOVIE_ID else name for name in clean_movies.column_names])
    return table.append_column("title_lower", pa.array([normalize_title(t) for t in titles], pa.string()))


@dg.asset(
    **STORE,
    kinds={"mongodb"},
    code_version="2",
    io_manager_key="mongo_io_manager",
    metadata={"collection": MOVIES_COLLECTION.name},
    op_tags=priority("movies_collection"),
)
def movies_collection(clean_movies: pa.Table) -> dg.MaterializeResult:
    """MongoDB collection ``movies``: one document per movie, ``_id`` = tmdb_id, lists as arrays, dates as dates,
    indexes for the web app's queries only (normalized ``title_lower`` for title lookup and prefix search, popularity
    order for the popular list).
    Written in unordered batches to a temporary collection that is renamed over the old one."""
    documents = movie_documents(clean_movies)
    return dg.MaterializeResult(value=documents, metadata={
        **table_metadata(documents), "preview": markdown_preview(documents, columns=["_id", "title", "year", "genres"])})
