"""The serving checks, computed by the assets from what they produced.

The hybrid's structural checks are blocking: the web app serves these files as they are.
"""

import dagster as dg
import numpy as np
import pyarrow as pa

from spin_reel_assets.recommender.keys import distinct, keys_in, pair_keys
from spin_reel_assets.schema import MOVIE_ID, USER_ID

COMPLETE = dg.AssetCheckSpec("every_user_has_top_n", asset="hybrid_recommendations", blocking=True,
                             description="Every rating user has N recommendations (fewer only when fewer unseen movies exist).")
UNSEEN = dg.AssetCheckSpec("no_rated_movie_recommended", asset="hybrid_recommendations", blocking=True,
                           description="No user is recommended a movie they already rated.")
KNOWN_IDS = dg.AssetCheckSpec("ids_exist_in_collection", asset="hybrid_recommendations", blocking=True,
                              description="Every tmdb_id in both files is a movie of the content index: the cleaned movies, the "
                                          "documents of the MongoDB collection written before the lists.")
HYBRID_CHECKS = [COMPLETE, UNSEEN, KNOWN_IDS]

NDCG = dg.AssetCheckSpec("hybrid_ndcg_not_below_als", asset="recommendation_quality",
                         description="On held-out ratings the hybrid's nDCG@10 is at least ALS alone's.")
COVERAGE = dg.AssetCheckSpec("hybrid_coverage_not_below_als", asset="recommendation_quality",
                             description="The hybrid's catalogue coverage@10 is at least ALS alone's.")
QUALITY_CHECKS = [NDCG, COVERAGE]


def hybrid_structure(recs: pa.Table, similar: pa.Table, ratings: pa.Table, collection_ids: np.ndarray,
                     top_n: int) -> list[dg.AssetCheckResult]:
    """The structural guarantees of the hybrid files against the ratings and the collection's ids (sorted)."""
    rated_users = ratings.column(USER_ID).to_numpy()
    rated_movies = ratings.column(MOVIE_ID).to_numpy()
    in_collection = keys_in(rated_movies, collection_ids)
    users = distinct(rated_users)
    seen_per_user = np.bincount(np.searchsorted(users, rated_users[in_collection]), minlength=len(users))
    expected = np.minimum(top_n, len(collection_ids) - seen_per_user)
    rec_users = recs.column(USER_ID).to_numpy()
    got = np.bincount(np.searchsorted(users, rec_users), minlength=len(users)) if keys_in(rec_users, users).all() else None
    short = int((got != expected).sum()) if got is not None else len(users)
    overlap = keys_in(pair_keys(rec_users, recs.column(MOVIE_ID).to_numpy()), pair_keys(rated_users, rated_movies))
    ids = [recs.column(MOVIE_ID), similar.column(MOVIE_ID), similar.column("similar_tmdb_id"),
           recs.column("because_tmdb_id").drop_null()]
    unknown = sum(int((~keys_in(column.to_numpy(), collection_ids)).sum()) for column in ids)
    return [
        dg.AssetCheckResult(check_name=COMPLETE.name, passed=short == 0,
                            metadata={"users": len(users), "users_with_wrong_count": short}),
        dg.AssetCheckResult(check_name=UNSEEN.name, passed=not overlap.any(),
                            metadata={"rated_movies_recommended": int(overlap.sum())}),
        dg.AssetCheckResult(check_name=KNOWN_IDS.name, passed=unknown == 0, metadata={"unknown_ids": unknown}),
    ]


def quality_checks(report: dict, k: int) -> list[dg.AssetCheckResult]:
    """Warnings when the hybrid is below ALS alone on the evaluation users."""
    hybrid, als = report["hybrid"], report["als"]
    return [
        dg.AssetCheckResult(check_name=NDCG.name, passed=bool(hybrid[f"ndcg@{k}"] >= als[f"ndcg@{k}"]),
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"hybrid": hybrid[f"ndcg@{k}"], "als": als[f"ndcg@{k}"]}),
        dg.AssetCheckResult(check_name=COVERAGE.name, passed=bool(hybrid["coverage"] >= als["coverage"]),
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"hybrid": hybrid["coverage"], "als": als["coverage"]}),
    ]
