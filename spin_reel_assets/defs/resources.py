"""The code location's resources and IO managers, bound to the environment (see spin_reel_assets/settings.py)."""

import dagster as dg

from spin_reel_assets.settings import build_resources


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
