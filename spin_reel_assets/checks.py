"""Blocking asset checks: a failure stops the assets downstream of the checked one from materializing."""

import dagster as dg
import numpy as np
import pyarrow as pa

from spin_reel_assets.cleaning.movies import ADULT
from spin_reel_assets.io_managers.parquet import ParquetBundle
from spin_reel_assets.resources import MongoResource
from spin_reel_assets.schema import MOVIE_ID, MOVIES_COLLECTION, USER_ID

HYBRID = dg.AssetKey("hybrid_recommendations")
COMPLETE = dg.AssetCheckSpec("every_user_has_top_n", asset=HYBRID, blocking=True, additional_deps=["ratings_table"],
                             description="Every rating user has N recommendations (fewer only when fewer unseen movies exist).")
UNSEEN = dg.AssetCheckSpec("no_rated_movie_recommended", asset=HYBRID, blocking=True, additional_deps=["ratings_table"],
                           description="No user is recommended a movie they already rated.")
KNOWN_IDS = dg.AssetCheckSpec("ids_exist_in_collection", asset=HYBRID, blocking=True, additional_deps=["ratings_table"],
                              description="Every tmdb_id in both files is a document of the MongoDB movies collection.")


def _pair_keys(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    return users.astype(np.int64) << 32 | movies.astype(np.int64)


@dg.multi_asset_check(
    specs=[COMPLETE, UNSEEN, KNOWN_IDS],
    ins={"hybrid_recommendations": dg.AssetIn(), "ratings_table": dg.AssetIn()},
)
def hybrid_structure(hybrid_recommendations: ParquetBundle, ratings_table: pa.Table, mongo: MongoResource):
    """The structural guarantees of the hybrid files, checked against PostgreSQL and MongoDB."""
    recs = hybrid_recommendations.tables["user_recommendations"]
    similar = hybrid_recommendations.tables["similar_movies"]
    top_n = hybrid_recommendations.manifest["top_n"]
    with mongo.get_database() as database:
        collection_ids = np.array(sorted(d["_id"] for d in database[MOVIES_COLLECTION.name].find({}, {"_id": 1})), dtype=np.int64)

    rated_users = ratings_table.column(USER_ID).to_numpy()
    rated_movies = ratings_table.column(MOVIE_ID).to_numpy()
    in_collection = np.isin(rated_movies, collection_ids)
    users = np.unique(rated_users)
    seen_per_user = np.bincount(np.searchsorted(users, rated_users[in_collection]), minlength=len(users))
    expected = np.minimum(top_n, len(collection_ids) - seen_per_user)
    rec_users = recs.column(USER_ID).to_numpy()
    got = np.bincount(np.searchsorted(users, rec_users), minlength=len(users)) if np.isin(rec_users, users).all() else None
    short = int((got != expected).sum()) if got is not None else len(users)
    yield dg.AssetCheckResult(check_name=COMPLETE.name, passed=short == 0,
                              metadata={"users": len(users), "users_with_wrong_count": short})

    overlap = np.isin(_pair_keys(rec_users, recs.column(MOVIE_ID).to_numpy()), _pair_keys(rated_users, rated_movies))
    yield dg.AssetCheckResult(check_name=UNSEEN.name, passed=not overlap.any(),
                              metadata={"rated_movies_recommended": int(overlap.sum())})

    ids = [recs.column(MOVIE_ID), similar.column(MOVIE_ID), similar.column("similar_tmdb_id"),
           recs.column("because_tmdb_id").drop_null()]
    unknown = sum(int((~np.isin(column.to_numpy(), collection_ids)).sum()) for column in ids)
    yield dg.AssetCheckResult(check_name=KNOWN_IDS.name, passed=unknown == 0, metadata={"unknown_ids": unknown})


# A file where more than this share of rows is bad is more likely the wrong file (or a broken export) than a file
# with a few bad rows: stop before it replaces the stores.
MAX_QUARANTINED_SHARE = 0.05


def _quarantined_share(context, asset: str, excused: str | None = None) -> tuple[float, dict]:
    """Share of input rows quarantined by the latest materialization, not counting the ``excused`` reason."""
    metadata = context.instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization.metadata
    excused_rows = metadata[f"quarantine: {excused}"].value if excused and f"quarantine: {excused}" in metadata else 0
    rows_in, quarantined = metadata["rows_in"].value, metadata["quarantined"].value - excused_rows
    share = quarantined / rows_in if rows_in else 1.0
    return share, {"rows_in": rows_in, "quarantined": quarantined, "share": round(share, 4), "limit": MAX_QUARANTINED_SHARE}


def _repeated_keys(keys: np.ndarray) -> int:
    """Number of rows whose key repeats an earlier row's."""
    return len(keys) - len(np.unique(keys))


@dg.asset_check(asset="clean_ratings", blocking=True,
                description=f"At most {MAX_QUARANTINED_SHARE:.0%} of the input rows quarantined, and one rating per (user, movie).")
def clean_ratings_are_sound(context: dg.AssetCheckExecutionContext, clean_ratings: pa.Table) -> dg.AssetCheckResult:
    share, metadata = _quarantined_share(context, "clean_ratings")
    duplicates = _repeated_keys(_pair_keys(clean_ratings.column(USER_ID).to_numpy(), clean_ratings.column(MOVIE_ID).to_numpy()))
    return dg.AssetCheckResult(passed=share <= MAX_QUARANTINED_SHARE and duplicates == 0,
                               metadata={**metadata, "duplicate_pairs": duplicates})


@dg.asset_check(asset="clean_movies", blocking=True,
                description=f"At most {MAX_QUARANTINED_SHARE:.0%} of the TMDB records quarantined (adult titles aside), one row per tmdb_id.")
def clean_movies_are_sound(context: dg.AssetCheckExecutionContext, clean_movies: pa.Table) -> dg.AssetCheckResult:
    share, metadata = _quarantined_share(context, "clean_movies", excused=ADULT)
    duplicates = _repeated_keys(clean_movies.column(MOVIE_ID).to_numpy())
    return dg.AssetCheckResult(passed=share <= MAX_QUARANTINED_SHARE and duplicates == 0,
                               metadata={**metadata, "duplicate_ids": duplicates})
