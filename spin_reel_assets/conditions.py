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
