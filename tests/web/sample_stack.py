"""The stack the web app serves in its tests and benchmark, built from the real bundled sample (data/sample).

A few hundred real TMDB movies (the most rated MovieLens ones, a few sequels, a few that nobody rated and one
without a poster) go to MongoDB, the matching MovieLens ratings and movie facts to PostgreSQL, and the four hybrid
artifacts are computed from them with the pipeline's own recommender functions (content vectors from the TMDB
texts, a small numpy ALS standing in for Spark's) and written in the contract schema.

This is the one place that builds the served data: swap ``build_stack`` for the real pipeline's output to test
the web app against it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pymongo
import scipy.sparse as sp
from psycopg import sql

from spin_reel_assets.recommender import hybrid
from spin_reel_assets.recommender.content import fit_content_model, movie_text
from spin_reel_assets.schema import (
    DEFAULT_SIMILAR_CANDIDATES,
    HYBRID_MANIFEST_PATH,
    ITEM_EMBEDDINGS_PATH,
    MOVIES_COLLECTION,
    MOVIES_TABLE,
    RATINGS_TABLE,
    SIMILAR_MOVIES_PATH,
    TMDB_LIST_FIELDS,
    USER_RECOMMENDATIONS_PATH,
    TableSpec,
)
from spin_reel_assets.titles import normalize_title

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
MOST_RATED = 400
# Toy Story 1-4 (for prefix search; the 4th has no MovieLens ratings) and Amélie (accents).
EXTRA_MOVIES = (862, 863, 10193, 301528, 194)
UNRATED_MOVIES = 12  # TMDB movies without MovieLens ratings: no ALS factors, content only
WEIGHT = 0.5
TOP_N = 20
ALS_RANK = 16


@dataclass(frozen=True)
class SampleStack:
    artifacts_dir: Path
    mongo_uri: str
    mongo_db: str
    postgres_url: str
    movies: pd.DataFrame  # the TMDB rows served, by tmdb_id
    ratings: pd.DataFrame  # user_id, tmdb_id, rating, rated_at

    def app_config(self, **overrides) -> dict:
        """``create_app`` settings pointing at this stack."""
        return {
            "ARTIFACTS_DIR": str(self.artifacts_dir),
            "MONGO_URI": self.mongo_uri,
            "MONGO_DB": self.mongo_db,
            "POSTGRES_URL": self.postgres_url,
            "SECRET_KEY": "test",
            **overrides,
        }

    def environ(self) -> dict[str, str]:
        """The same, as the SPIN_REEL_* environment of a gunicorn process."""
        return {
            "SPIN_REEL_ARTIFACTS_DIR": str(self.artifacts_dir),
            "SPIN_REEL_MONGO_URI": self.mongo_uri,
            "SPIN_REEL_MONGO_DB": self.mongo_db,
            "SPIN_REEL_POSTGRES_URL": self.postgres_url,
            "SPIN_REEL_SECRET_KEY": "bench",
        }


def load_sample(sample_dir: Path = SAMPLE_DIR) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(TMDB movies, ratings keyed by tmdb_id) for the chosen movies."""
    tmdb = pd.read_csv(sample_dir / "TMDB_movie_dataset_v11.csv.gz", keep_default_na=True)
    links = pd.read_csv(sample_dir / "links.csv.gz").dropna(subset=["tmdbId"]).astype({"tmdbId": "int64"})
    movielens = pd.read_csv(sample_dir / "movies.csv.gz")
    raw = pd.read_csv(sample_dir / "ratings.csv.gz")

    ratings = raw.merge(links[["movieId", "tmdbId"]], on="movieId").rename(columns={"userId": "user_id", "tmdbId": "tmdb_id"})
    ratings = ratings[ratings.tmdb_id.isin(tmdb.id)]
    rated_ids = ratings.tmdb_id.value_counts().index[:MOST_RATED].tolist()
    unrated = tmdb[~tmdb.id.isin(links.tmdbId) & tmdb.overview.notna()].id.head(UNRATED_MOVIES - 1).tolist()
    no_poster = tmdb[tmdb.poster_path.isna() & tmdb.overview.notna()].id.head(1).tolist()
    chosen = set(rated_ids) | set(EXTRA_MOVIES) | set(unrated) | set(no_poster)

    movies = tmdb[tmdb.id.isin(chosen)].rename(columns={"id": "tmdb_id"}).sort_values("tmdb_id").reset_index(drop=True)
    titles = links.merge(movielens, on="movieId").groupby("tmdbId").agg(movielens_title=("title", "first"), movielens_ids=("movieId", list))
    movies = movies.join(titles, on="tmdb_id")

    ratings = ratings[ratings.tmdb_id.isin(chosen)].sort_values("timestamp")
    ratings = ratings.drop_duplicates(["user_id", "tmdb_id"], keep="last")  # two MovieLens ids, one TMDB movie
    ratings = ratings.assign(rated_at=pd.to_datetime(ratings.timestamp, unit="s", utc=True))
    return movies, ratings[["user_id", "tmdb_id", "rating", "rated_at"]].reset_index(drop=True)


def _value(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _names(value) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()] if isinstance(value, str) else []


def movie_documents(movies: pd.DataFrame) -> list[dict]:
    documents = []
    for row in movies.to_dict("records"):
        released = pd.to_datetime(row["release_date"], errors="coerce")
        document = {
            "_id": int(row["tmdb_id"]),
            "title": row["title"],
            "title_lower": normalize_title(row["title"]),
            "year": None if pd.isna(released) else int(released.year),
            "release_date": None if pd.isna(released) else dt.datetime(released.year, released.month, released.day, tzinfo=dt.timezone.utc),
            "runtime": None if pd.isna(row["runtime"]) else int(row["runtime"]),
            "vote_count": int(row["vote_count"]),
            "movielens_ids": row["movielens_ids"] if isinstance(row["movielens_ids"], list) else [],
            **{field: _names(row[field]) for field in TMDB_LIST_FIELDS},
        }
        for field in ("original_title", "overview", "tagline", "vote_average", "popularity", "poster_path", "backdrop_path",
                      "imdb_id", "original_language", "budget", "revenue", "status", "homepage", "movielens_title"):
            document[field] = _value(row[field])
        documents.append(document)
    return documents


def write_mongo(uri: str, database: str, movies: pd.DataFrame) -> None:
    client = pymongo.MongoClient(uri)
    try:
        collection = client[database][MOVIES_COLLECTION.name]
        collection.drop()
        collection.insert_many(movie_documents(movies))
        for keys in MOVIES_COLLECTION.indexes:
            collection.create_index(list(keys))
    finally:
        client.close()


def _create_table(connection: psycopg.Connection, spec: TableSpec) -> None:
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in spec.columns)
    key = sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(spec.name)))
    connection.execute(sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(sql.Identifier(spec.name), columns, key))
    for index in spec.indexes:
        connection.execute(sql.SQL("CREATE INDEX ON {} ({})").format(sql.Identifier(spec.name), sql.SQL(", ").join(map(sql.Identifier, index))))


def write_postgres(url: str, movies: pd.DataFrame, ratings: pd.DataFrame) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for spec in (RATINGS_TABLE, MOVIES_TABLE):
            _create_table(connection, spec)
        with connection.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(RATINGS_TABLE.name), sql.SQL(", ").join(map(sql.Identifier, RATINGS_TABLE.column_names)))) as copy:
            for row in ratings.itertuples(index=False):
                copy.write_row((int(row.user_id), int(row.tmdb_id), float(row.rating), row.rated_at.to_pydatetime()))
        documents = movie_documents(movies)
        connection.cursor().executemany(
            sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)").format(sql.Identifier(MOVIES_TABLE.name)),
            [(d["_id"], d["title"], d["year"], d["genres"], d["runtime"]) for d in documents],
        )
        connection.execute(sql.SQL("ANALYZE"))


def fit_als(rated: sp.csr_matrix, rank: int = ALS_RANK, iterations: int = 10, regularization: float = 0.1, seed: int = 42):
    """Explicit-feedback ALS on the observed ratings (a stand-in for the pipeline's Spark ALS):
    (user factors, item factors), NaN item rows for items nobody rated."""
    rng = np.random.default_rng(seed)
    n_users, n_items = rated.shape
    users = rng.normal(0, 0.1, (n_users, rank))
    items = rng.normal(0, 0.1, (n_items, rank))
    by_item = rated.T.tocsr()
    eye = regularization * np.eye(rank)

    def solve(matrix, fixed, out):
        for row in range(matrix.shape[0]):
            start, stop = matrix.indptr[row], matrix.indptr[row + 1]
            if start == stop:
                continue
            y = fixed[matrix.indices[start:stop]]
            out[row] = np.linalg.solve(y.T @ y + eye * (stop - start), y.T @ matrix.data[start:stop])

    for _ in range(iterations):
        solve(rated, items, users)
        solve(by_item, users, items)
    items[np.diff(by_item.indptr) == 0] = np.nan
    return users.astype(np.float32), items.astype(np.float32)


def _vectors(matrix: np.ndarray) -> pa.Array:
    missing = np.isnan(matrix).all(axis=1)
    offsets = pa.array(np.arange(len(matrix) + 1, dtype=np.int32) * matrix.shape[1])
    return pa.ListArray.from_arrays(offsets, pa.array(np.nan_to_num(matrix).ravel().astype(np.float32)), mask=pa.array(missing))


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.float32), mask=np.isnan(values))


def write_artifacts(directory: Path, movies: pd.DataFrame, ratings: pd.DataFrame, weight: float = WEIGHT, top_n: int = TOP_N) -> None:
    item_ids = movies.tmdb_id.to_numpy(np.int64)  # sorted
    texts = [
        movie_text(row["title"], _value(row["overview"]) or "", _value(row["tagline"]) or "", _names(row["genres"]), _names(row["keywords"]))
        for row in movies.to_dict("records")
    ]
    _, content = fit_content_model(texts, dim=64)
    user_ids, user_index = np.unique(ratings.user_id.to_numpy(), return_inverse=True)
    rated = sp.csr_matrix(
        (ratings.rating.to_numpy(np.float32), (user_index, np.searchsorted(item_ids, ratings.tmdb_id.to_numpy()))),
        shape=(len(user_ids), len(item_ids)),
    )
    user_factors, item_factors = fit_als(rated)
    profiles = hybrid.content_profiles(rated, content)
    recs = hybrid.recommend_users(user_factors, item_factors, profiles, content, rated, weight, n=top_n)
    because = hybrid.explain(recs["user"], recs["item"], rated, content)
    # As the pipeline by default: precomputed lists for rated movies only, the web app ranks the others'.
    rated_items = np.flatnonzero(~np.isnan(item_factors).any(axis=1))
    similar = hybrid.similar_items(content, item_factors, weight, n=top_n, items=rated_items)

    tables = {
        USER_RECOMMENDATIONS_PATH: pa.table({
            "user_id": pa.array(user_ids[recs["user"]].astype(np.int64)),
            "rank": pa.array(recs["rank"].astype(np.int32)),
            "tmdb_id": pa.array(item_ids[recs["item"]]),
            "score": pa.array(recs["score"].astype(np.float32)),
            "als_score": _nullable(recs["als_score"]),
            "content_score": pa.array(recs["content_score"].astype(np.float32)),
            "because_tmdb_id": pa.array(np.where(because >= 0, item_ids[np.maximum(because, 0)], 0), mask=because < 0),
        }),
        SIMILAR_MOVIES_PATH: pa.table({
            "tmdb_id": pa.array(item_ids[similar["item"]]),
            "rank": pa.array(similar["rank"].astype(np.int32)),
            "similar_tmdb_id": pa.array(item_ids[similar["similar"]]),
            "score": pa.array(similar["score"].astype(np.float32)),
            "content_score": pa.array(similar["content_score"].astype(np.float32)),
            "als_score": _nullable(similar["als_score"]),
        }),
        ITEM_EMBEDDINGS_PATH: pa.table({"tmdb_id": pa.array(item_ids), "content": _vectors(content), "als": _vectors(item_factors)}),
    }
    for path, table in tables.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, directory / path)
    manifest = {"weight": weight, "top_n": top_n, "similar_lists": "rated", "similar_candidates": DEFAULT_SIMILAR_CANDIDATES,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat()}
    (directory / HYBRID_MANIFEST_PATH).write_text(json.dumps(manifest))


def build_stack(artifacts_dir: Path, mongo_uri: str, mongo_db: str, postgres_url: str) -> SampleStack:
    movies, ratings = load_sample()
    write_mongo(mongo_uri, mongo_db, movies)
    write_postgres(postgres_url, movies, ratings)
    write_artifacts(artifacts_dir, movies, ratings)
    return SampleStack(artifacts_dir, mongo_uri, mongo_db, postgres_url, movies, ratings)
