"""Automation conditions of the assets. They act only while the ``automation`` sensor runs, which is off by default."""

import dagster as dg

# Rebuild when an upstream asset (or an observed input file) has new data and nothing is in flight.
EAGER = dg.AutomationCondition.eager()

# Periodic retraining: Monday 03:00 UTC, even when no rating changed (ALS sees new implicit structure over time
# only through new ratings, but a fresh seed/config or library upgrade should reach production regularly).
RETRAIN_CRON = "0 3 * * 1"
RETRAIN = EAGER | (dg.AutomationCondition.cron_tick_passed(RETRAIN_CRON) & ~dg.AutomationCondition.in_progress())
