"""The automation sensor: evaluates every asset's automation condition (see spin_reel_assets/conditions.py)."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Evaluates the assets' automation conditions: eager rebuilds after new upstream data or a code "
    "change, and the weekly ALS retraining cron. Off by default so nothing runs unasked; switch it on in the UI "
    "(Automation).",
)
