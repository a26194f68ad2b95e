"""Models: Spark ALS from the PostgreSQL ratings (production, and the validation fit on the protocol's train part),
and a FAISS content index from the cleaned movies."""

import time
from dataclasses import asdict
from typing import Literal

import dagster as dg
import numpy as np
import pyarrow as pa
from psycopg import sql
from pydantic import Field

from spin_reel_assets.conditions import EAGER, OWNERS, RETRAIN, WEEKLY, priority
from spin_reel_assets.io_managers.model_files import ContentIndex
from spin_reel_assets.io_managers.parquet import ParquetBundle
from spin_reel_assets.recommender.content import build_index, fit_content_model, movie_text, recall_at_k_vs_exact
from spin_reel_assets.recommender.validation import factor_tables, hold_out
from spin_reel_assets.resources import PostgresResource, SparkResource
from spin_reel_assets.schema import DEFAULT_SEED, MOVIE_ID, RATINGS_TABLE, USER_ID
from spin_reel_assets.recommender.spark_als import (AlsArtifact, AlsParams, JdbcSetupError, fit_factors,
                                                    ratings_dataframe, read_ratings_jdbc, train_als)

CONTENT_FIELDS = ["title", "overview", "tagline", "genres", "keywords"]


class AlsConfig(dg.Config):
    """ALS hyperparameters; defaults (and why they were chosen) in ``spark_als.AlsParams``."""

    rank: int = Field(AlsParams.rank, description="Number of latent factors per user and movie.")
    max_iter: int = Field(AlsParams.max_iter, description="ALS iterations (alternating least-squares sweeps).")
    reg_param: float = Field(AlsParams.reg_param, description="L2 regularization of the factors.")
    implicit_prefs: bool = Field(AlsParams.implicit_prefs,
                                 description="Ratings as confidence of a positive signal (implicit ALS) rather than values to fit.")
    alpha: float = Field(AlsParams.alpha, description="Implicit ALS confidence scale: c = 1 + alpha · rating.")
    seed: int = Field(AlsParams.seed, description="Random seed: the same seed and data give the same factors.")
    num_blocks: int = Field(AlsParams.num_blocks, description="Spark ALS user/item blocks (parallelism of each sweep).")
    jdbc_partitions: int = Field(4, description="Parallel JDBC reads of the ratings table, split by user_id.")
    fetchsize: int = Field(50_000, description="Rows per JDBC round trip (the driver streams with a cursor).")

    def params(self) -> AlsParams:
        return AlsParams(self.rank, self.max_iter, self.reg_param, self.implicit_prefs, self.alpha, self.seed, self.num_blocks)


@dg.asset(
    deps=["ratings_table"],
    group_name="models",
    kinds={"spark", "postgres"},
    code_version="2",
    owners=OWNERS,
    tags={"stage": "models"},
    automation_condition=RETRAIN,
    freshness_policy=WEEKLY,
    io_manager_key="spark_model_io_manager",
    op_tags=priority("als_model"),
)
def als_model(context: dg.AssetExecutionContext, config: AlsConfig, pyspark: SparkResource,
              postgres: PostgresResource) -> dg.MaterializeResult:
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
    from pyspark import StorageLevel

    spark = pyspark.spark_session
    url, properties = postgres.jdbc()
    started = time.perf_counter()
    try:
        ratings = read_ratings_jdbc(
            spark, url, properties, RATINGS_TABLE.name, (low, high), config.jdbc_partitions, config.fetchsize
        ).persist(StorageLevel.DISK_ONLY)  # read once, kept off the heap: ALS holds its own blocks of it
        rows = ratings.count()
    except JdbcSetupError as error:
        raise dg.Failure(description=str(error)) from None
    read_seconds = time.perf_counter() - started
    params = config.params()
    started = time.perf_counter()
    model = train_als(ratings, params, pyspark.checkpoint_dir)
    train_seconds = time.perf_counter() - started
    ratings.unpersist()
    return dg.MaterializeResult(
        value=AlsArtifact(model, params),
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


class ValidationConfig(AlsConfig):
    """The production ALS parameters (set them as in ``als_model``) and the held-out protocol
    (``recommender.split.protocol_split``, where the choice of defaults is explained)."""

    split: Literal["temporal", "stratified"] = Field("temporal", description="Held-out protocol: each user's latest "
                                                     "ratings (leakage-free), or the per-user stratified random split.")
    test_fraction: float = Field(0.2, description="Share of each user's ratings held out.")
    new_user_share: float = Field(0.2, description="Share of the users with held-out ratings simulated as new users: "
                                  "only their first 1–20 training ratings are kept (0 disables).")
    new_user_max_ratings: int = Field(20, description="Most training ratings a simulated new user keeps.")
    tuning_fraction: float = Field(0.5, description="Share of the users with held-out ratings that choose the "
                                   "blend weights; the others measure.")
    max_tuning_users: int = Field(5_000, description="Cap on tuning users (a seeded sample at scale).")
    max_evaluation_users: int = Field(20_000, description="Cap on evaluation users (a seeded sample at scale).")
    split_seed: int = Field(DEFAULT_SEED, description="Seed of the split and of the user groups.")


VALIDATION_FOLDER = "validation"


@dg.asset(
    group_name="models",
    kinds={"spark", "parquet"},
    code_version="1",
    owners=OWNERS,
    tags={"stage": "models"},
    automation_condition=EAGER,
    io_manager_key="parquet_bundle_io_manager",
    metadata={"folder": VALIDATION_FOLDER},
    op_tags=priority("als_validation_model"),
)
def als_validation_model(context: dg.AssetExecutionContext, config: ValidationConfig, pyspark: SparkResource,
                         ratings_table: pa.Table) -> dg.MaterializeResult:
    """The held-out protocol of model selection and evaluation, and ALS fitted on its train part.

    Depends on the ratings only, so a TMDB change never refits it. The ratings are split per user (by default
    leakage-free: each user's latest 20 % by time, with 20 % of the users simulated as new users who keep only
    their first ratings; the stratified random split of the Microsoft Recommenders protocol is selectable), the
    users with held-out ratings into two disjoint seeded groups (tuning users choose the blend weights in ``blend_weights``, evaluation users
    measure in ``recommendation_quality``), and ALS with the production parameters is fitted on the rest. Written
    as ``validation/``: the held-out ratings, the user groups and the factors (Parquet), the protocol in the
    manifest."""
    holdout = hold_out(ratings_table, config.split, config.split_seed, test_fraction=config.test_fraction,
                       new_user_share=config.new_user_share, new_user_max_ratings=config.new_user_max_ratings,
                       tuning_fraction=config.tuning_fraction, max_tuning_users=config.max_tuning_users,
                       max_evaluation_users=config.max_evaluation_users)
    params = config.params()
    tables = holdout.split_tables()
    user_ids, item_ids, groups = holdout.user_ids, holdout.item_ids, (len(holdout.tuning_users), len(holdout.evaluation_users))
    started = time.perf_counter()
    train = holdout.train
    frame = ratings_dataframe(pyspark.spark_session, train.users, train.items, train.ratings)
    train_ratings = len(train.users)
    # Spark holds its own copy now: freed, the split's arrays do not sit in this process for the whole fit,
    # beside the other fit's (the graph's memory peak).
    del holdout, train
    pa.default_memory_pool().release_unused()
    user_factors, item_factors, _ = fit_factors(frame, len(user_ids), len(item_ids), params, pyspark.checkpoint_dir)
    fit_seconds = time.perf_counter() - started
    description = (f"{config.split} {1 - config.test_fraction:.0%}/{config.test_fraction:.0%}, "
                   f"{config.new_user_share:.0%} simulated new users, seed {config.split_seed}")
    protocol = {"split": config.split, "test_fraction": config.test_fraction, "new_user_share": config.new_user_share,
                "tuning_fraction": config.tuning_fraction, "seed": config.split_seed, "description": description}
    tables.update(factor_tables(user_ids, item_ids, user_factors, item_factors))
    bundle = ParquetBundle(tables, {"protocol": protocol, "params": asdict(params)})
    return dg.MaterializeResult(value=bundle, metadata={
        "split": description,
        "train_ratings": dg.MetadataValue.int(train_ratings),
        "held_out_ratings": dg.MetadataValue.int(bundle.tables["held_out"].num_rows),
        "withheld_new_user_ratings": dg.MetadataValue.int(bundle.tables["withheld"].num_rows),
        "tuning_users": dg.MetadataValue.int(groups[0]),
        "evaluation_users": dg.MetadataValue.int(groups[1]),
        "fit_seconds": dg.MetadataValue.float(round(fit_seconds, 2)),
    })


class ContentConfig(dg.Config):
    dim: int = Field(128, description="Dimension of the content vectors (TruncatedSVD of the TF-IDF features).")
    # Above this many movies an IVF index replaces exact search: the serving assets query the index once per movie
    # and per user, so exact search would cost catalogue² (hours at 200k movies, measured at 5M ratings).
    exact_max: int = Field(50_000, description="Largest catalogue searched exactly (IndexFlatIP); IVF-Flat above.")
    nprobe: int = Field(32, description="IVF lists searched per query, of about 4·√movies (more: better recall, "
                        "slower queries).")
    seed: int = Field(42, description="Random seed of the SVD and the recall sample.")


@dg.asset(
    # From the cleaned Parquet, not the MongoDB copy: the index is built while the collection is written.
    ins={"clean_movies": dg.AssetIn(metadata={"columns": [MOVIE_ID, *CONTENT_FIELDS]})},
    group_name="models",
    kinds={"faiss", "scikitlearn"},
    code_version="2",
    owners=OWNERS,
    tags={"stage": "models"},
    automation_condition=EAGER,
    io_manager_key="faiss_io_manager",
    op_tags=priority("faiss_index"),
)
def faiss_index(context: dg.AssetExecutionContext, config: ContentConfig, clean_movies: pa.Table) -> dg.MaterializeResult:
    """Content similarity for every cleaned movie (the documents of the MongoDB collection): hashed TF-IDF over
    title, overview, tagline, genres and keywords, TruncatedSVD to a dense dimension, L2-normalized, in a FAISS
    inner-product index (exact IndexFlatIP up to ``exact_max`` movies, IVF-Flat above, with its recall@10 against exact
    search). Saved with the tmdb_id of every row and the fitted text model, so new text can be embedded later."""
    movies = clean_movies.sort_by(MOVIE_ID)
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
    index = build_index(vectors, exact_max=config.exact_max, nprobe=config.nprobe, seed=config.seed)
    index_seconds = time.perf_counter() - started
    recall = recall_at_k_vs_exact(index, vectors, k=10, seed=config.seed)
    ids = movies.column(MOVIE_ID).to_numpy().astype(np.int64)
    return dg.MaterializeResult(
        value=ContentIndex(index, ids, model),
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
