"""The ingest checks: computed by the cleaning assets from what they produced, blocking so that a file that is more
likely the wrong file (or a broken export) than a file with a few bad rows never replaces the stores."""

import dagster as dg
import numpy as np

from spin_reel_assets.cleaning.movies import ADULT
from spin_reel_assets.cleaning.quarantine import Cleaned
from spin_reel_assets.recommender.keys import distinct, pair_keys
from spin_reel_assets.schema import MOVIE_ID, USER_ID

MAX_QUARANTINED_SHARE = 0.05

RATINGS_SOUND = dg.AssetCheckSpec(
    "clean_ratings_are_sound", asset="clean_ratings", blocking=True,
    description=f"At most {MAX_QUARANTINED_SHARE:.0%} of the input rows quarantined, and one rating per (user, movie).",
)
MOVIES_SOUND = dg.AssetCheckSpec(
    "clean_movies_are_sound", asset="clean_movies", blocking=True,
    description=f"At most {MAX_QUARANTINED_SHARE:.0%} of the TMDB records quarantined (adult titles aside), one row per tmdb_id.",
)


def _repeated_keys(keys: np.ndarray) -> int:
    """Number of rows whose key repeats an earlier row's."""
    return len(keys) - len(distinct(keys))


def _quarantined_share(cleaned: Cleaned, rows_in: int, excused: str | None = None) -> tuple[float, dict]:
    quarantined = cleaned.quarantine.num_rows - cleaned.counts.get(excused, 0)
    share = quarantined / rows_in if rows_in else 1.0
    return share, {"rows_in": rows_in, "quarantined": quarantined, "share": round(share, 4), "limit": MAX_QUARANTINED_SHARE}


def ratings_check(cleaned: Cleaned, rows_in: int) -> dg.AssetCheckResult:
    share, metadata = _quarantined_share(cleaned, rows_in)
    table = cleaned.table
    duplicates = _repeated_keys(pair_keys(table.column(USER_ID).to_numpy(), table.column(MOVIE_ID).to_numpy()))
    return dg.AssetCheckResult(check_name=RATINGS_SOUND.name, passed=share <= MAX_QUARANTINED_SHARE and duplicates == 0,
                               metadata={**metadata, "duplicate_pairs": duplicates})


def movies_check(cleaned: Cleaned, rows_in: int) -> dg.AssetCheckResult:
    share, metadata = _quarantined_share(cleaned, rows_in, excused=ADULT)
    duplicates = _repeated_keys(cleaned.table.column(MOVIE_ID).to_numpy())
    return dg.AssetCheckResult(check_name=MOVIES_SOUND.name, passed=share <= MAX_QUARANTINED_SHARE and duplicates == 0,
                               metadata={**metadata, "duplicate_ids": duplicates})


def blocked(result: dg.AssetCheckResult, source: str, metadata: dict) -> dg.Failure:
    """The failure an asset raises after yielding a failed blocking check: its output is never stored, so no later
    run, whatever its selection, can load it into a store. ``metadata`` (the cleaning counts and previews) says why."""
    values = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
    return dg.Failure(
        description=f"{source}: blocking check {result.check_name} failed ({values}); "
        "the output was not stored, the stores keep the previous version",
        metadata={**metadata, **result.metadata},
    )
