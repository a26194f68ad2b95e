"""Serving: hybrid Top-N Parquet for the web app, and the offline evaluation that says whether the blend helps."""

import datetime as dt
import time
from typing import Literal

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dagster_pyspark import PySparkResource
from pydantic import Field

from spin_reel_assets.conditions import EAGER, OWNERS, WEEKLY
from spin_reel_assets.defs.models.assets import SPARK_CHECKPOINTS
from spin_reel_assets.recommender.evaluation import Scorer, evaluate, index_ratings, markdown_table, search_weight, split_users
from spin_reel_assets.io_managers.model_files import ContentIndex
from spin_reel_assets.resources import ArtifactsResource
from spin_reel_assets.io_managers.parquet import ParquetBundle
from spin_reel_assets.metadata import markdown_preview, table_metadata
from spin_reel_assets.recommender import hybrid, metrics
from spin_reel_assets.recommender.split import stratified_split, temporal_split
from spin_reel_assets.schema import DEFAULT_CANDIDATES, DEFAULT_SEED, DEFAULT_TOP_N, MOVIE_ID, RATED_AT, RATING, USER_ID
from spin_reel_assets.recommender.spark_als import AlsArtifact, AlsParams, factor_matrix, fit_factor_matrices, predict_pairs

from .checks import HYBRID_CHECKS, QUALITY_CHECKS, hybrid_structure, quality_checks

HYBRID_FOLDER = "hybrid"
QUALITY_FOLDER = "quality"


def _item_space(faiss_index: ContentIndex) -> tuple[np.ndarray, np.ndarray]:
    """The movies of the collection sorted by tmdb_id (the item index space) and their content vectors."""
    order = np.argsort(faiss_index.ids)
    return faiss_index.ids[order], np.ascontiguousarray(faiss_index.vectors()[order])


def _ratings_in(ratings_table: pa.Table, item_ids: np.ndarray):
    return index_ratings(
        ratings_table.column(USER_ID).to_numpy(), ratings_table.column(MOVIE_ID).to_numpy().astype(np.int64),
        ratings_table.column(RATING).to_numpy(), item_ids,
    )


def _fit(spark, interactions, params: AlsParams, checkpoint_dir: str):
    return fit_factor_matrices(spark, interactions.users, interactions.items, interactions.ratings,
                               interactions.n_users, interactions.n_items, params, checkpoint_dir)


def _vectors_column(matrix: np.ndarray) -> pa.Array:
    """Rows of a float32 matrix as list<float32>; rows that are all NaN (no factors) become null."""
    missing = np.isnan(matrix).all(axis=1) if matrix.shape[1] else np.ones(len(matrix), dtype=bool)
    offsets = pa.array(np.arange(len(matrix) + 1, dtype=np.int32) * matrix.shape[1])
    values = pa.array(np.nan_to_num(matrix).astype(np.float32).ravel())
    return pa.ListArray.from_arrays(offsets, values, mask=pa.array(missing))


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.float32), mask=np.isnan(values))


class HybridConfig(dg.Config):
    top_n: int = Field(DEFAULT_TOP_N, description="Recommendations per user and similar movies per movie.")
    weight: float | None = Field(None, description="ALS share of the blend (0–1); empty takes the weight "
                                 "recommendation_quality chose on tuning users.")
    candidates: int = Field(DEFAULT_CANDIDATES, description="ALS candidates per user scored exactly "
                            "(content brings twice as many).")
    similar_candidates: int = Field(100, description="Content and ALS neighbours per movie re-ranked for its similar list.")


SERVING = {"group_name": "serving", "owners": OWNERS, "tags": {"stage": "serving"}, "automation_condition": EAGER}


@dg.asset(
    **SERVING,
    kinds={"parquet", "faiss"},
    code_version="3",
    freshness_policy=WEEKLY,
    check_specs=HYBRID_CHECKS,
    io_manager_key="parquet_bundle_io_manager",
    metadata={"folder": HYBRID_FOLDER},
)
def hybrid_recommendations(context: dg.AssetExecutionContext, config: HybridConfig, ratings_table: pa.Table,
                           als_model: AlsArtifact, faiss_index: ContentIndex, recommendation_quality: ParquetBundle):
    """Hybrid Top-N: ``hybrid/user_recommendations.parquet`` (the top N unseen movies of every user, with the ALS
    and content scores and the rated movie that best explains each pick) and ``hybrid/similar_movies.parquet``
    (the top N neighbours of every movie in the collection), plus the item vectors the web app's cold-start page
    uses. Per user and per movie, candidates from both signals (ALS top-K among rated movies, content nearest
    neighbours from the FAISS index) are scored on both, min-max scaled and blended with the ALS weight that
    recommendation_quality chose on held-out ratings. Movies nobody rated get ALS factors imputed from their
    nearest content neighbours, so content alone brings them into user lists and neighbour lists; rated movies
    never come back.
    """
    item_ids, content_vectors = _item_space(faiss_index)
    user_ids, interactions, known = _ratings_in(ratings_table, item_ids)
    rated = interactions.matrix()
    weight = recommendation_quality.manifest["als_weight"] if config.weight is None else config.weight

    started = time.perf_counter()
    user_factors = factor_matrix(als_model.model.userFactors, user_ids)
    fitted_factors = factor_matrix(als_model.model.itemFactors, item_ids)
    fitted = np.flatnonzero(~np.isnan(fitted_factors).any(axis=1))
    item_factors, imputed = hybrid.impute_item_factors(fitted_factors, content_vectors)
    impute_seconds = time.perf_counter() - started
    started = time.perf_counter()
    profiles = hybrid.content_profiles(rated, content_vectors)
    recs = hybrid.recommend_users(user_factors, item_factors, profiles, content_vectors, rated, weight,
                                  n=config.top_n, candidates=config.candidates, content_index=faiss_index.index,
                                  als_items=fitted)
    because = hybrid.explain(recs["user"], recs["item"], rated, content_vectors)
    users_seconds = time.perf_counter() - started
    started = time.perf_counter()
    similar = hybrid.similar_items(content_vectors, item_factors, weight, n=config.top_n,
                                   content_index=faiss_index.index, candidates=config.similar_candidates,
                                   als_items=fitted)
    similar_seconds = time.perf_counter() - started

    user_recommendations = pa.table({
        USER_ID: pa.array(user_ids[recs["user"]].astype(np.int64)),
        "rank": pa.array(recs["rank"].astype(np.int32)),
        MOVIE_ID: pa.array(item_ids[recs["item"]]),
        "score": pa.array(recs["score"].astype(np.float32)),
        "als_score": _nullable(recs["als_score"]),
        "content_score": pa.array(recs["content_score"].astype(np.float32)),
        "because_tmdb_id": pa.array(np.where(because >= 0, item_ids[np.maximum(because, 0)], 0), mask=because < 0),
    })
    similar_movies = pa.table({
        MOVIE_ID: pa.array(item_ids[similar["item"]]),
        "rank": pa.array(similar["rank"].astype(np.int32)),
        "similar_tmdb_id": pa.array(item_ids[similar["similar"]]),
        "score": pa.array(similar["score"].astype(np.float32)),
        "content_score": pa.array(similar["content_score"].astype(np.float32)),
        "als_score": _nullable(similar["als_score"]),
    })
    item_embeddings = pa.table({MOVIE_ID: pa.array(item_ids), "content": _vectors_column(content_vectors),
                                "als": _vectors_column(item_factors), "als_imputed": pa.array(imputed)})
    recommended = pc.unique(user_recommendations.column(MOVIE_ID))
    cold = imputed | np.isnan(item_factors).all(axis=1)
    manifest = {
        "weight": weight, "weight_source": "config" if config.weight is not None else "recommendation_quality",
        "top_n": config.top_n, "candidates": config.candidates,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(), "users": len(user_ids), "movies": len(item_ids),
    }
    metadata = {
        **table_metadata(user_recommendations),
        "als_weight": dg.MetadataValue.float(float(weight)),
        "weight_source": manifest["weight_source"],
        "users": dg.MetadataValue.int(len(user_ids)),
        "movies": dg.MetadataValue.int(len(item_ids)),
        "movies_without_ratings": dg.MetadataValue.int(int(cold.sum())),
        "cold_movies_recommended": dg.MetadataValue.int(int(np.isin(np.asarray(recommended), item_ids[cold]).sum())),
        "catalogue_coverage": dg.MetadataValue.float(round(len(recommended) / len(item_ids), 4)),
        "ratings_outside_collection": dg.MetadataValue.int(int((~known).sum())),
        "impute_seconds": dg.MetadataValue.float(round(impute_seconds, 3)),
        "user_lists_seconds": dg.MetadataValue.float(round(users_seconds, 3)),
        "similar_movies_seconds": dg.MetadataValue.float(round(similar_seconds, 3)),
        "preview": markdown_preview(user_recommendations, rows=10),
    }
    checks = hybrid_structure(user_recommendations, similar_movies, ratings_table, item_ids, config.top_n)
    failed = [check for check in checks if not check.passed]
    if failed:
        yield from checks
        raise dg.Failure(f"hybrid_recommendations: blocking checks failed: {', '.join(c.check_name for c in failed)}; "
                         "the files were not written, the web app keeps serving the previous version",
                         metadata={name: value for check in failed for name, value in check.metadata.items()})
    bundle = ParquetBundle({"user_recommendations": user_recommendations, "similar_movies": similar_movies,
                            "item_embeddings": item_embeddings}, manifest)
    yield dg.MaterializeResult(value=bundle, metadata=metadata, check_results=checks)


class QualityConfig(dg.Config):
    split: Literal["stratified", "temporal"] = Field("stratified", description="Held-out protocol: per-user "
                                                     "stratified random, or each user's latest ratings.")
    test_fraction: float = Field(0.25, description="Share of each user's ratings held out.")
    tuning_fraction: float = Field(0.25, description="Share of the users with held-out ratings that choose the "
                                   "blend weight; the others measure.")
    max_tuning_users: int = Field(5_000, description="Cap on tuning users (a seeded sample at scale).")
    max_evaluation_users: int = Field(20_000, description="Cap on evaluation users (a seeded sample at scale).")
    candidates: int = Field(DEFAULT_CANDIDATES, description="ALS candidates per user scored exactly.")
    rating_model: bool = Field(True, description="Also fit explicit ALS for its RMSE (a reference rating model).")
    seed: int = Field(DEFAULT_SEED, description="Seed of the split and of the user groups.")
    k: int = Field(10, description="Cut-off of the ranking metrics.")


@dg.asset(
    **SERVING,
    kinds={"spark", "parquet"},
    code_version="3",
    check_specs=QUALITY_CHECKS,
    io_manager_key="parquet_bundle_io_manager",
    metadata={"folder": QUALITY_FOLDER},
)
def recommendation_quality(context: dg.AssetExecutionContext, config: QualityConfig, pyspark: PySparkResource,
                           artifacts: ArtifactsResource, ratings_table: pa.Table, als_model: AlsArtifact,
                           faiss_index: ContentIndex):
    """Model selection and offline evaluation on a held-out split (per-user stratified random 75/25 with seed 42,
    the Microsoft Recommenders protocol; per-user temporal selectable). ALS with the production parameters is
    fitted once on the train part. The users with test ratings are split into two disjoint groups: on the
    tuning users' held-out ratings the blend weight is chosen by nDCG@10 (hybrid_recommendations uses it); on the
    evaluation users' ones Precision@10, Recall@10, nDCG@10, MAP@10 and catalogue coverage of popularity, ALS
    alone, content alone and the hybrid are measured, with the RMSE of an explicit ALS rating model for
    reference. Written as ``quality/metrics.parquet`` with the weight in ``quality/manifest.json``."""
    item_ids, content_vectors = _item_space(faiss_index)
    _, interactions, known = _ratings_in(ratings_table, item_ids)
    if config.split == "temporal":
        stamps = ratings_table.column(RATED_AT).cast(pa.int64()).to_numpy()[known]
        is_test = temporal_split(interactions.users, stamps, config.test_fraction)
    else:
        is_test = stratified_split(interactions.users, config.test_fraction, config.seed)
    train, test = interactions.subset(~is_test), interactions.subset(is_test)
    train_matrix, test_matrix = train.matrix(), test.matrix()
    tuning_users, eval_users = split_users(test_matrix, config.tuning_fraction, config.max_tuning_users,
                                           config.max_evaluation_users, config.seed)
    spark = pyspark.spark_session
    params = als_model.params
    checkpoints = artifacts.path(SPARK_CHECKPOINTS)

    started = time.perf_counter()
    user_factors, item_factors, _ = _fit(spark, train, params, checkpoints)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scorer = Scorer(train_matrix, user_factors, item_factors, content_vectors, faiss_index.index, config.candidates)
    weight, grid = search_weight(scorer, test_matrix, tuning_users, k=config.k)
    report = evaluate(scorer, test_matrix, eval_users, weight, config.k)
    rank_seconds = time.perf_counter() - started

    extra = {}
    if config.rating_model:
        # Explicit ALS as the rating model: its RMSE is meaningful, and its ranking shows why it is not the default.
        explicit = AlsParams(rank=10, max_iter=15, reg_param=0.1, implicit_prefs=False, seed=params.seed)
        explicit_users, explicit_items, explicit_model = _fit(spark, train, explicit, checkpoints)
        predicted = predict_pairs(explicit_model, test.users, test.items)
        explicit_scorer = Scorer(train_matrix, explicit_users, explicit_items, content_vectors, faiss_index.index,
                                 config.candidates, impute=False)
        extra["als explicit (rating model)"] = {
            **metrics.ranking_report(explicit_scorer.top_k(1.0, config.k, eval_users),
                                     test_matrix[eval_users], interactions.n_items, config.k),
            "rmse": metrics.rmse(predicted, test.ratings),
        }

    k = config.k
    rows = {**report, **extra}
    columns = sorted({column for values in rows.values() for column in values})
    table = pa.table({"recommender": list(rows), **{c: [rows[name].get(c) for name in rows] for c in columns}})
    manifest = {"als_weight": weight, "weight_grid_ndcg@10": {str(w): v for w, v in grid.items()},
                "split": config.split, "test_fraction": config.test_fraction, "seed": config.seed, "k": k,
                "tuning_users": len(tuning_users), "evaluation_users": len(eval_users)}
    metadata = {
        "report": dg.MetadataValue.md(markdown_table(report, extra)),
        "split": f"{config.split} {1 - config.test_fraction:.0%}/{config.test_fraction:.0%}, seed {config.seed}",
        "als_weight": dg.MetadataValue.float(float(weight)),
        "weight_grid": dg.MetadataValue.md("| ALS weight | tuning nDCG@10 |\n|---|---|\n" + "\n".join(
            f"| {w:.1f} | {v:.4f} |" for w, v in grid.items())),
        "train_ratings": dg.MetadataValue.int(len(train.users)),
        "test_ratings": dg.MetadataValue.int(len(test.users)),
        "tuning_users": dg.MetadataValue.int(len(tuning_users)),
        "evaluation_users": dg.MetadataValue.int(len(eval_users)),
        "fit_seconds": dg.MetadataValue.float(round(fit_seconds, 2)),
        "ranking_seconds": dg.MetadataValue.float(round(rank_seconds, 2)),
    }
    if extra:
        metadata["rating_model_rmse"] = dg.MetadataValue.float(round(extra["als explicit (rating model)"]["rmse"], 4))
    for name, values in report.items():
        for metric, value in values.items():
            metadata[f"{name}/{metric}"] = dg.MetadataValue.float(round(float(value), 5))
    return dg.MaterializeResult(value=ParquetBundle({"metrics": table}, manifest),
                                metadata={**table_metadata(table), **metadata}, check_results=quality_checks(report, k))
