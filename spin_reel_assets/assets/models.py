"""Models: Spark ALS from the PostgreSQL ratings, and a FAISS content index from the MongoDB movies."""

import time

import dagster as dg
import numpy as np
import pyarrow as pa
from dagster_pyspark import PySparkResource
from psycopg import sql

from spin_reel_assets.conditions import EAGER, RETRAIN
from spin_reel_assets.io_managers.model_files import ContentIndex
from spin_reel_assets.recommender.content import build_index, fit_content_model, movie_text, recall_at_k_vs_exact
from spin_reel_assets.resources import ArtifactsResource, PostgresResource
from spin_reel_assets.schema import RATINGS_TABLE, USER_ID
from spin_reel_assets.recommender.spark_als import AlsArtifact, AlsParams, read_ratings_jdbc, train_als

from .stores import ratings_table

SPARK_CHECKPOINTS = "spark-checkpoints"
CONTENT_FIELDS = ["_id", "title", "overview", "tagline", "genres", "keywords"]


class AlsConfig(dg.Config):
    """ALS hyperparameters; defaults (and why they were chosen) in ``spark_als.AlsParams``."""

    rank: int = AlsParams.rank
    max_iter: int = AlsParams.max_iter
    reg_param: float = AlsParams.reg_param
    implicit_prefs: bool = AlsParams.implicit_prefs
    alpha: float = AlsParams.alpha
    seed: int = AlsParams.seed
    num_blocks: int = AlsParams.num_blocks
    jdbc_partitions: int = 4
    fetchsize: int = 50_000

    def params(self) -> AlsParams:
        return AlsParams(self.rank, self.max_iter, self.reg_param, self.implicit_prefs, self.alpha, self.seed, self.num_blocks)


@dg.asset(
    deps=[ratings_table],
    group_name="models",
    kinds={"spark", "postgres"},
    code_version="2",
    automation_condition=RETRAIN,
    io_manager_key="spark_model_io_manager",
)
def als_model(context: dg.AssetExecutionContext, config: AlsConfig, pyspark: PySparkResource,
              postgres: PostgresResource, artifacts: ArtifactsResource) -> dg.Output[AlsArtifact]:
    """Collaborative filtering: PySpark ALS trained on the PostgreSQL ``ratings`` table, read over JDBC in
    parallel partitions of user_id (bounds from the table's own min/max) with a streaming fetchsize.
    Deterministic (seed), coldStartStrategy "drop", checkpointed. Saved with its parameters by the Spark model
    IO manager."""
    with postgres.connect() as conn:
        low, high, count = conn.execute(
            sql.SQL("SELECT min({0}), max({0}), count(*) FROM {1}").format(
                sql.Identifier(USER_ID), sql.Identifier(RATINGS_TABLE.name)
            )
        ).fetchone()
    if not count:
        raise dg.Failure("the ratings table is empty: nothing to train on")
    spark = pyspark.spark_session
    url, properties = postgres.jdbc()
    started = time.perf_counter()
    ratings = read_ratings_jdbc(
        spark, url, properties, RATINGS_TABLE.name, (low, high), config.jdbc_partitions, config.fetchsize
    ).cache()
    rows = ratings.count()
    read_seconds = time.perf_counter() - started
    params = config.params()
    started = time.perf_counter()
    model = train_als(ratings, params, artifacts.path(SPARK_CHECKPOINTS))
    train_seconds = time.perf_counter() - started
    ratings.unpersist()
    return dg.Output(
        AlsArtifact(model, params),
        metadata={
            "rank": params.rank,
            "iterations": params.max_iter,
            "implicit_prefs": params.implicit_prefs,
            "rows_read": dg.MetadataValue.int(rows),
            "read_seconds": dg.MetadataValue.float(round(read_seconds, 3)),
            "read_rows_per_second": dg.MetadataValue.int(int(rows / max(read_seconds, 1e-9))),
            "train_seconds": dg.MetadataValue.float(round(train_seconds, 3)),
            "seconds_per_iteration": dg.MetadataValue.float(round(train_seconds / params.max_iter, 3)),
            "users": dg.MetadataValue.int(model.userFactors.count()),
            "items": dg.MetadataValue.int(model.itemFactors.count()),
            "held_out_rmse": "see recommendation_quality (not meaningful for implicit preferences)"
            if params.implicit_prefs else "see recommendation_quality",
        },
    )


class ContentConfig(dg.Config):
    dim: int = 128
    # Above this many movies an HNSW index replaces exact search: the serving assets query the index once per movie
    # and per user, so exact search would cost catalogue² (hours at 200k movies, measured at 5M ratings).
    exact_max: int = 50_000
    hnsw_m: int = 32
    ef_search: int = 128
    seed: int = 42


@dg.asset(
    ins={"movies_collection": dg.AssetIn(metadata={"fields": CONTENT_FIELDS})},
    group_name="models",
    kinds={"faiss", "mongodb", "scikitlearn"},
    code_version="1",
    automation_condition=EAGER,
    io_manager_key="faiss_io_manager",
)
def faiss_index(context: dg.AssetExecutionContext, config: ContentConfig, movies_collection: pa.Table) -> dg.Output[ContentIndex]:
    """Content similarity for every movie in the MongoDB collection: hashed TF-IDF over title, overview,
    tagline, genres and keywords, TruncatedSVD to a dense dimension, L2-normalized, in a FAISS inner-product index
    (exact IndexFlatIP up to ``exact_max`` movies, HNSW above, with its recall@10 against exact search).
    Saved with the tmdb_id of every row and the fitted text model, so new text can be embedded later."""
    movies = movies_collection.sort_by("_id")
    columns = {name: movies.column(name).to_pylist() for name in CONTENT_FIELDS}
    texts = [
        movie_text(title or "", overview or "", tagline or "", genres or [], keywords or [])
        for title, overview, tagline, genres, keywords in zip(
            columns["title"], columns["overview"], columns["tagline"], columns["genres"], columns["keywords"]
        )
    ]
    started = time.perf_counter()
    model, vectors = fit_content_model(texts, dim=config.dim, seed=config.seed)
    embed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    index = build_index(vectors, exact_max=config.exact_max, hnsw_m=config.hnsw_m, ef_search=config.ef_search, seed=config.seed)
    index_seconds = time.perf_counter() - started
    recall = recall_at_k_vs_exact(index, vectors, k=10, seed=config.seed)
    ids = np.asarray(columns["_id"], dtype=np.int64)
    return dg.Output(
        ContentIndex(index, ids, model),
        metadata={
            "movies": dg.MetadataValue.int(len(ids)),
            "dimension": dg.MetadataValue.int(vectors.shape[1]),
            "index_type": type(index).__name__,
            "recall@10_vs_exact": dg.MetadataValue.float(round(recall, 4)),
            "embed_seconds": dg.MetadataValue.float(round(embed_seconds, 3)),
            "index_seconds": dg.MetadataValue.float(round(index_seconds, 3)),
            "empty_text_movies": dg.MetadataValue.int(int((np.abs(vectors).sum(axis=1) == 0).sum())),
        },
    )
