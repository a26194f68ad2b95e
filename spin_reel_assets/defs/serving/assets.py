"""Serving: the blend weights chosen on tuning users, hybrid Top-N Parquet for the web app (and the memory-mapped
form the web app serves it from), and the offline evaluation that says whether the blend helps."""

import datetime as dt
import time
from pathlib import Path
from typing import Literal

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from spin_reel_assets.conditions import EAGER, LARGE_MEMORY, OWNERS, WEEKLY, priority
from spin_reel_assets.recommender.blend import SCHEDULE_GRID, Blender, WeightSchedule, popularity_prior, schedule_key
from spin_reel_assets.recommender.evaluation import (COLD_ROUTES, Scorer, complete_factors, ease_top_k,
                                                     extra_candidates, index_ratings, markdown_table, ranked_lists,
                                                     ratio_table, search_cold_route, search_schedule, search_weight,
                                                     segment_reports)
from spin_reel_assets.io_managers.model_files import ContentIndex
from spin_reel_assets.resources import ArtifactsResource, SparkResource
from spin_reel_assets.io_managers.parquet import ParquetBundle
from spin_reel_assets.metadata import markdown_preview, table_metadata
from spin_reel_assets.recommender import hybrid, metrics
from spin_reel_assets.recommender.factors import AlsFactors
from spin_reel_assets.recommender.keys import distinct
from spin_reel_assets.recommender.spark_als import AlsParams, fit_factor_matrices, predict_pairs
from spin_reel_assets.recommender.validation import Validation, rebuild
from spin_reel_assets.schema import DEFAULT_CANDIDATES, DEFAULT_SIMILAR_CANDIDATES, DEFAULT_TOP_N, MOVIE_ID, RATING, USER_ID

from spin_reel_web import serving_form as web_serving_form

from .checks import HYBRID_CHECKS, QUALITY_CHECKS, hybrid_structure, quality_checks

HYBRID_FOLDER = "hybrid"
QUALITY_FOLDER = "quality"
WEIGHTS_FOLDER = "blend"


def _item_space(faiss_index: ContentIndex) -> tuple[np.ndarray, np.ndarray]:
    """The movies of the content index (the collection's documents) sorted by tmdb_id, the item index space, and
    their content vectors."""
    order = np.argsort(faiss_index.ids)
    return faiss_index.ids[order], np.ascontiguousarray(faiss_index.vectors()[order])


def _ratings_in(ratings_table: pa.Table, item_ids: np.ndarray):
    return index_ratings(
        ratings_table.column(USER_ID).to_numpy(), ratings_table.column(MOVIE_ID).to_numpy().astype(np.int64),
        ratings_table.column(RATING).to_numpy(), item_ids,
    )


def _validation(ratings_table: pa.Table, als_validation_model: ParquetBundle, faiss_index: ContentIndex):
    item_ids, content_vectors = _item_space(faiss_index)
    return rebuild(ratings_table, als_validation_model.tables, item_ids), content_vectors


def _scorer(validation: Validation, content_vectors: np.ndarray, faiss_index: ContentIndex, candidates: int,
            cold_route: str) -> Scorer:
    return Scorer(validation.train, validation.user_factors, validation.item_factors, content_vectors,
                  faiss_index.index, candidates, cold_route=cold_route)


def _vectors_column(matrix: np.ndarray) -> pa.Array:
    """Rows of a float32 matrix as list<float32>; rows that are all NaN (no factors) become null."""
    missing = np.isnan(matrix).all(axis=1) if matrix.shape[1] else np.ones(len(matrix), dtype=bool)
    offsets = pa.array(np.arange(len(matrix) + 1, dtype=np.int32) * matrix.shape[1])
    values = pa.array(np.nan_to_num(matrix).astype(np.float32).ravel())
    return pa.ListArray.from_arrays(offsets, values, mask=pa.array(missing))


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.float32), mask=np.isnan(values))


SERVING = {"group_name": "serving", "owners": OWNERS, "tags": {"stage": "serving"}, "automation_condition": EAGER}


class BlendConfig(dg.Config):
    candidates: int = Field(DEFAULT_CANDIDATES, description="ALS candidates per user scored exactly "
                            "(content brings as many), as in hybrid_recommendations.")
    k: int = Field(10, description="Cut-off of the nDCG the weights are chosen by.")


# Users with this many training ratings show the chosen schedule in the asset's metadata.
SCHEDULE_SHOWN_AT = (1, 3, 5, 10, 20, 50, 100, 300, 1000)


@dg.asset(
    **SERVING,
    kinds={"parquet", "faiss"},
    code_version="4",
    io_manager_key="parquet_bundle_io_manager",
    op_tags=LARGE_MEMORY | priority("blend_weights"),
    metadata={"folder": WEIGHTS_FOLDER},
)
def blend_weights(config: BlendConfig, ratings_table: pa.Table, als_validation_model: ParquetBundle,
                  faiss_index: ContentIndex) -> dg.MaterializeResult:
    """The blend of the hybrid, chosen by nDCG@k on the held-out ratings of the tuning users only (the
    validation ALS fit, the content index), every grid point recorded: for user lists the ``WeightSchedule``
    (ALS, content and popularity-prior shares as a function of the user's number of ratings, and the ALS factor
    of movies without fitted factors; ``blend.SCHEDULE_GRID``), searched with the neighbour route for movies
    without ratings; then the cold route (``evaluation.COLD_ROUTES``: the mean of 20 content neighbours'
    factors, or a ridge map from content vectors to factors fitted on the rated movies), whichever does better
    at that schedule (ties: neighbours); for similar-movie lists and the web app's cold start one ALS share,
    with that route. Needs no Spark: a TMDB change re-chooses them over the new content index without
    refitting ALS. Written as ``blend/`` (the grids as tables, the choice in the manifest)."""
    validation, content_vectors = _validation(ratings_table, als_validation_model, faiss_index)
    tuning, k = validation.tuning_users, config.k
    started = time.perf_counter()
    neighbours = _scorer(validation, content_vectors, faiss_index, config.candidates, "neighbours")
    schedule, schedule_grid = search_schedule(neighbours, validation.test, tuning, k=k)
    # The other routes' scorers only now: each holds a catalogue × rank factor matrix.
    scorers = {route: neighbours if route == "neighbours" else
               _scorer(validation, content_vectors, faiss_index, config.candidates, route) for route in COLD_ROUTES}
    del neighbours
    cold_route, route_grid = search_cold_route(scorers, schedule, validation.test, tuning, k=k)
    scorer = scorers.pop(cold_route)
    del scorers  # the other route's completed factors: a catalogue × rank matrix
    weight, grid = search_weight(scorer, validation.test, tuning, k=k)
    seconds = time.perf_counter() - started
    schedules = pa.table({
        "als_max": [p.als_max for p in SCHEDULE_GRID], "half_n": [p.half_n for p in SCHEDULE_GRID],
        "content": [p.content for p in SCHEDULE_GRID], "cold_als": [p.cold_als for p in SCHEDULE_GRID],
        f"tuning_ndcg@{k}": list(schedule_grid.values()),
    })
    weights = pa.table({"als_weight": list(grid), f"tuning_ndcg@{k}": list(grid.values())})
    manifest = {"schedule": schedule.to_dict(), f"schedule_grid_ndcg@{k}": schedule_grid,
                "cold_route": cold_route, f"cold_route_ndcg@{k}": route_grid,
                "als_weight": weight, f"weight_grid_ndcg@{k}": {str(w): v for w, v in grid.items()},
                "tuning_users": len(tuning), "k": k}
    shares = "\n".join(f"| {n} | {w.als:.2f} | {w.content:.2f} | {w.prior:.2f} |"
                       for n, w in ((n, schedule.shares_at(n)) for n in SCHEDULE_SHOWN_AT))
    bundle = ParquetBundle({"schedule_grid": schedules, "weight_grid": weights}, manifest)
    return dg.MaterializeResult(value=bundle, metadata={
        **table_metadata(schedules),
        "schedule": schedule_key(schedule),
        "schedule_tuning_ndcg": dg.MetadataValue.float(schedule_grid[schedule_key(schedule)]),
        "shares_by_ratings": dg.MetadataValue.md(
            "| training ratings | ALS | content | prior |\n|---|---|---|---|\n" + shares),
        "cold_route": cold_route,
        **{f"cold_route {route} tuning_ndcg": dg.MetadataValue.float(value) for route, value in route_grid.items()},
        "als_weight": dg.MetadataValue.float(float(weight)),
        "weight_grid": dg.MetadataValue.md(f"| ALS weight | tuning nDCG@{k} |\n|---|---|\n" + "\n".join(
            f"| {w:.1f} | {v:.4f} |" for w, v in grid.items())),
        "tuning_users": dg.MetadataValue.int(len(tuning)),
        "search_seconds": dg.MetadataValue.float(round(seconds, 2)),
    })


class HybridConfig(dg.Config):
    top_n: int = Field(DEFAULT_TOP_N, description="Recommendations per user and similar movies per movie.")
    weight: float | None = Field(None, description="One ALS share (0–1) for every list instead of what "
                                 "blend_weights chose on tuning users (its schedule for user lists, its ALS share "
                                 "for similar-movie lists); empty takes those.")
    candidates: int = Field(DEFAULT_CANDIDATES, description="ALS candidates per user scored exactly "
                            "(content brings as many).")
    similar_candidates: int = Field(DEFAULT_SIMILAR_CANDIDATES, description="Content and ALS neighbours per movie re-ranked for "
                                    "its similar list.")
    similar_lists: Literal["rated", "all"] = Field(
        "rated", description="Movies that get a precomputed similar list: those with ratings (fitted ALS factors; "
        "the web app ranks the others' lists on request, as this asset would) or every movie of the collection.")


@dg.asset(
    **SERVING,
    kinds={"parquet", "faiss"},
    code_version="7",
    freshness_policy=WEEKLY,
    check_specs=HYBRID_CHECKS,
    io_manager_key="parquet_bundle_io_manager",
    op_tags=LARGE_MEMORY | priority("hybrid_recommendations"),
    metadata={"folder": HYBRID_FOLDER},
    # The factors, read from Parquet beside the Spark model: no JVM for this asset.
    ins={"als_model": dg.AssetIn(input_manager_key="als_factors_io_manager")},
    # The lists name movies the web app looks up in MongoDB: none is published before the collection holds it.
    deps=["movies_collection"],
)
def hybrid_recommendations(context: dg.AssetExecutionContext, config: HybridConfig, ratings_table: pa.Table,
                           als_model: AlsFactors, faiss_index: ContentIndex, blend_weights: ParquetBundle):
    """Hybrid Top-N: ``hybrid/user_recommendations.parquet`` (the top N unseen movies of every user, with the ALS
    and content scores and the rated movie that best explains each pick) and ``hybrid/similar_movies.parquet``
    (the top N neighbours of every movie in the collection), plus the item vectors the web app's cold-start page
    uses. Per user and per movie, candidates from both signals (ALS top-K among rated movies, content nearest
    neighbours from the FAISS index; for users also the most rated movies and their nearest movies without
    ratings) are scored on both, min-max scaled and blended as blend_weights chose on the tuning users' held-out
    ratings: user lists by its schedule (the more a user rated, the more ALS counts against the popularity
    prior), similar-movie lists by its ALS share. Movies nobody rated get ALS factors from their content by the
    cold route it chose (the mean of their nearest content neighbours' factors, or a ridge map from content to
    factors), so content alone brings them into user lists and neighbour lists; rated movies never come back.
    By default only movies with ratings get a precomputed similar list (``similar_lists``): at a full TMDB
    catalogue nine in ten movies have none, and the web app ranks their lists on request from the item vectors,
    content candidates re-scored exactly, as this asset does for such a movie.
    """
    item_ids, content_vectors = _item_space(faiss_index)
    cold_route = blend_weights.manifest.get("cold_route", "neighbours")  # the only route before it was chosen
    user_ids, interactions, known = _ratings_in(ratings_table, item_ids)
    rated = interactions.matrix()
    weight = blend_weights.manifest["als_weight"] if config.weight is None else config.weight
    schedule = WeightSchedule.from_dict(blend_weights.manifest["schedule"])

    started = time.perf_counter()
    user_factors = als_model.user_matrix(user_ids)
    fitted_factors = als_model.item_matrix(item_ids)
    has_factors = ~np.isnan(fitted_factors).any(axis=1)
    fitted = np.flatnonzero(has_factors)
    item_factors, imputed = complete_factors(fitted_factors, content_vectors, cold_route)
    impute_seconds = time.perf_counter() - started
    started = time.perf_counter()
    profiles = hybrid.content_profiles(rated, content_vectors)
    # As evaluated (evaluation.Scorer): the schedule over each user's rating count, the popularity prior over
    # the most rated movies and the user's nearest movies without fitted factors as extra candidates.
    user_blend = weight if config.weight is not None else Blender(
        schedule, np.diff(rated.indptr), popularity_prior(rated.indices, len(item_ids)), has_factors)
    extra = extra_candidates(rated, profiles, content_vectors, imputed, content_index=faiss_index.index)
    recs = hybrid.recommend_users(user_factors, item_factors, profiles, content_vectors, rated, user_blend,
                                  n=config.top_n, candidates=config.candidates, content_index=faiss_index.index,
                                  als_items=fitted, extra_items=extra)
    because = hybrid.explain(recs["user"], recs["item"], rated, content_vectors)
    users_seconds = time.perf_counter() - started
    started = time.perf_counter()
    similar = hybrid.similar_items(content_vectors, item_factors, weight, n=config.top_n,
                                   content_index=faiss_index.index, candidates=config.similar_candidates,
                                   als_items=fitted, items=fitted if config.similar_lists == "rated" else None)
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
        "weight": weight, "weight_source": "config" if config.weight is not None else "blend_weights",
        "user_schedule": None if config.weight is not None else schedule.to_dict(),
        "cold_route": cold_route,
        "top_n": config.top_n, "candidates": config.candidates,
        "similar_lists": config.similar_lists, "similar_candidates": config.similar_candidates,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(), "users": len(user_ids), "movies": len(item_ids),
    }
    metadata = {
        **table_metadata(user_recommendations),
        "als_weight": dg.MetadataValue.float(float(weight)),
        "user_schedule": schedule_key(schedule) if config.weight is None else f"ALS share {weight:g}",
        "weight_source": manifest["weight_source"],
        "cold_route": cold_route,
        "users": dg.MetadataValue.int(len(user_ids)),
        "movies": dg.MetadataValue.int(len(item_ids)),
        "movies_without_ratings": dg.MetadataValue.int(int(cold.sum())),
        "movies_with_similar_lists": dg.MetadataValue.int(len(distinct(similar["item"]))),
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


@dg.asset(
    **SERVING,
    kinds={"arrow"},
    code_version=f"format-{web_serving_form.FORMAT}",
    deps=["hybrid_recommendations"],
    op_tags=priority("serving_form"),
)
def serving_form(artifacts: ArtifactsResource) -> dg.MaterializeResult:
    """The web app's serving form of ``hybrid/``: uncompressed Arrow IPC files, sorted by key, with the
    cold start's inverted indexes (``.serving/<version>/``, see ``spin_reel_web/serving_form.py``). Built here,
    right after the files it derives from, so that a web worker only memory-maps it: it answers within a second
    of starting instead of building it first (tens of seconds at a 1M-movie catalogue). The version is named
    after the published files, so the web app finds it; written atomically under a lock (a web worker building
    the same version meanwhile is waited for, not repeated); the two newest versions are kept."""
    artifacts_dir = Path(artifacts.path())
    started = time.perf_counter()
    try:
        folder = web_serving_form.build(artifacts_dir, web_serving_form.default_cache_dir(artifacts_dir))
    except (ValueError, OSError, InterruptedError) as error:
        raise dg.Failure(f"serving_form: {error}") from None
    seconds = time.perf_counter() - started
    meta = web_serving_form.open_version(folder)[1]
    return dg.MaterializeResult(metadata={
        "folder": str(folder),
        "version": folder.name,
        "movies": dg.MetadataValue.int(int(meta["movies"])),
        "size_mib": dg.MetadataValue.float(round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20, 1)),
        "build_seconds": dg.MetadataValue.float(round(seconds, 2)),
    })


class QualityConfig(dg.Config):
    candidates: int = Field(DEFAULT_CANDIDATES, description="ALS candidates per user scored exactly.")
    ease_reference: bool = Field(False, description="Also rank with EASE (closed-form item-item) as a reference; "
                                 "a dense items × items inverse, so only up to 20,000 rated movies.")
    rating_model: bool = Field(False, description="Also fit explicit ALS on the train part for its RMSE (a "
                               "reference rating model; a Spark fit of its own, so off by default).")
    k: int = Field(10, description="Cut-off of the ranking metrics.")


@dg.asset(
    **SERVING,
    kinds={"parquet"},
    code_version="7",
    check_specs=QUALITY_CHECKS,
    io_manager_key="parquet_bundle_io_manager",
    op_tags=LARGE_MEMORY | priority("recommendation_quality"),
    metadata={"folder": QUALITY_FOLDER},
)
def recommendation_quality(context: dg.AssetExecutionContext, config: QualityConfig, pyspark: SparkResource,
                           ratings_table: pa.Table, als_validation_model: ParquetBundle,
                           faiss_index: ContentIndex, blend_weights: ParquetBundle):
    """Offline evaluation on the evaluation users of the validation protocol (``als_validation_model``):
    Precision@k, Recall@k, nDCG@k, MAP@k and catalogue coverage of popularity, ALS alone, content alone and the
    hybrid with the schedule and cold route ``blend_weights`` chose on the tuning users (disjoint from these),
    and the same hybrid with the other cold route, in total and per user segment (training ratings 1–5, 6–20,
    21–100, >100), with hits on movies that had no training rating (cold) beside the warm ones, and the hybrid's
    nDCG over the better of ALS alone and popularity with a bootstrap interval per segment (a few dozen users
    make a noisy segment); EASE as a reference on request. Starts no Spark unless ``rating_model`` asks for the
    RMSE of an explicit ALS rating model. Written as ``quality/metrics.parquet``."""
    validation, content_vectors = _validation(ratings_table, als_validation_model, faiss_index)
    schedule, k = WeightSchedule.from_dict(blend_weights.manifest["schedule"]), config.k
    cold_route = blend_weights.manifest.get("cold_route", "neighbours")  # the only route before it was chosen
    eval_users = validation.evaluation_users
    started = time.perf_counter()
    scorer = _scorer(validation, content_vectors, faiss_index, config.candidates, cold_route)
    # The blend of the similar-movie lists, one ALS share for every user: what the schedule is measured against;
    # and the schedule with the other cold route, whose cold hits say which route brings unrated movies better.
    other_route = next(route for route in COLD_ROUTES if route != cold_route)
    references = {
        "hybrid, one ALS share": scorer.top_k(blend_weights.manifest["als_weight"], k, eval_users),
        f"hybrid, {other_route} cold route": _scorer(validation, content_vectors, faiss_index, config.candidates,
                                                     other_route).top_k(schedule, k, eval_users),
    }
    if config.ease_reference:
        ease = ease_top_k(validation.train, eval_users, k)
        if ease is None:
            context.log.warning("EASE reference skipped: more rated movies than its dense inverse allows")
        else:
            references["EASE (reference)"] = ease
    lists = ranked_lists(scorer, eval_users, schedule, k, references)
    report = segment_reports(scorer, validation.test, eval_users, lists, k)
    ratios = ratio_table(lists, validation.test[eval_users], scorer.n_train[eval_users], k)
    rank_seconds = time.perf_counter() - started

    extra = {}
    if config.rating_model:
        # Explicit ALS as the rating model: its RMSE is meaningful, and its ranking shows why it is not the default.
        train, test = validation.train.tocoo(), validation.test.tocoo()
        explicit = AlsParams(rank=10, max_iter=15, reg_param=0.1, implicit_prefs=False,
                             seed=als_validation_model.manifest["params"]["seed"])
        explicit_users, explicit_items, explicit_model = fit_factor_matrices(
            pyspark.spark_session, train.row, train.col, train.data, train.shape[0], train.shape[1], explicit,
            pyspark.checkpoint_dir)
        explicit_scorer = Scorer(validation.train, explicit_users, explicit_items, content_vectors,
                                 faiss_index.index, config.candidates, impute=False)
        extra["als explicit (rating model)"] = {
            **metrics.ranking_report(explicit_scorer.top_k(1.0, k, eval_users), validation.test[eval_users],
                                     len(validation.item_ids), k),
            "rmse": metrics.rmse(predict_pairs(explicit_model, test.row, test.col), test.data),
        }

    rows = {**report, **extra}
    columns = sorted({column for values in rows.values() for column in values})
    table = pa.table({"recommender": list(rows), **{c: [rows[name].get(c) for name in rows] for c in columns}})
    protocol = als_validation_model.manifest["protocol"]
    manifest = {"schedule": schedule.to_dict(), "cold_route": cold_route, "protocol": protocol, "k": k,
                "evaluation_users": len(eval_users)}
    metadata = {
        **table_metadata(table),
        "report": dg.MetadataValue.md(markdown_table(report, extra)),
        "hybrid_vs_better_baseline": dg.MetadataValue.md(
            f"| users | hybrid nDCG@{k} / better of ALS alone and popularity | 90 % bootstrap interval |\n"
            "|---|---|---|\n" + "\n".join(
                f"| {label.removeprefix('users ')} | " + ("no users | |" if np.isnan(ratio) else
                                                          f"{ratio:.3f} | {low:.3f}–{high:.3f} |")
                for label, (ratio, low, high) in ratios.items())),
        "split": protocol["description"],
        "schedule": schedule_key(schedule),
        "cold_route": cold_route,
        "evaluation_users": dg.MetadataValue.int(len(eval_users)),
        "ranking_seconds": dg.MetadataValue.float(round(rank_seconds, 2)),
    }
    if extra:
        metadata["rating_model_rmse"] = dg.MetadataValue.float(round(extra["als explicit (rating model)"]["rmse"], 4))
    for name, values in report.items():
        for metric, value in values.items():
            if not np.isnan(value):  # a segment without evaluation users has no figure
                metadata[f"{name}/{metric}"] = dg.MetadataValue.float(round(float(value), 5))
    for label, values in ratios.items():
        for bound, value in zip(("", " low", " high"), values):
            if not np.isnan(value):
                metadata[f"hybrid/ndcg@{k} vs better baseline {label}{bound}"] = dg.MetadataValue.float(round(value, 4))
    return dg.MaterializeResult(value=ParquetBundle({"metrics": table}, manifest), metadata=metadata,
                                check_results=quality_checks(report, k))
