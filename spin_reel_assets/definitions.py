"""The Dagster code location of Spin The Reel: everything under ``defs/`` (by stage), autoloaded.

Local and production differ only in the environment the resources read (see README: Configuration).
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    # The project's dg configuration: pyproject.toml in a checkout, the packaged dg.toml in an installed wheel.
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
