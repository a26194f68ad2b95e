"""Automation conditions and freshness policies of the assets.

Conditions act only while the ``automation`` sensor runs, which is off by default.
"""

import datetime as dt

import dagster as dg

_IDLE = ~dg.AutomationCondition.in_progress()

# Rebuild when an upstream asset (or an observed input file) has new data, or when this asset's code_version
# changed (a new release of its logic), and nothing is in flight.
EAGER = dg.AutomationCondition.eager() | (dg.AutomationCondition.code_version_changed() & _IDLE)

# Periodic retraining: Monday 03:00 UTC, even when no rating changed (ALS sees new implicit structure over time
# only through new ratings, but a fresh seed/config or library upgrade should reach production regularly).
RETRAIN_CRON = "0 3 * * 1"
RETRAIN = EAGER | (dg.AutomationCondition.cron_tick_passed(RETRAIN_CRON) & _IDLE)

# The weekly retrain is due by Monday 09:00 UTC: a model (and the lists built from it) older than the window that
# opens with the retrain cron is reported stale in the UI.
WEEKLY = dg.FreshnessPolicy.cron(deadline_cron="0 9 * * 1", lower_bound_delta=dt.timedelta(hours=6))

OWNERS = ["team:spin-reel"]

# Op tag of the steps that hold the whole rating matrix, content vectors and factors in memory: the run's
# executor (defs/executor.py) runs them one at a time.
LARGE_MEMORY = {"spin_reel/memory": "large"}

# Dagster's multiprocess executor runs as many steps at once as there are CPUs (2 on the reference machine) and,
# of the ready steps, starts the one with the highest ``dagster/priority`` op tag first. Ranked by the longest path
# of step times from each step to the end of the run (list scheduling, with the 25M figures in the README): the
# ratings side and the two ALS fits first, so neither waits behind the MongoDB write or the content index, which
# fill the other process meanwhile.
STEP_RANKS = ["clean_ratings", "ratings_table", "als_model", "als_validation_model", "clean_movies", "faiss_index",
              "movies_collection", "blend_weights", "hybrid_recommendations", "recommendation_quality", "serving_form",
              "movies_table"]


def priority(asset: str) -> dict[str, str]:
    """The op tag that ranks ``asset``'s step as STEP_RANKS does (first: highest)."""
    return {"dagster/priority": str(len(STEP_RANKS) - STEP_RANKS.index(asset))}
