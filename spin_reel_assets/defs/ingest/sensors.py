"""Notice changed input files: observe them, so the UI marks exactly the affected assets Unsynced."""

import hashlib
import json

import dagster as dg

from spin_reel_assets.cleaning.inputs import CANDIDATES
from spin_reel_assets.resources import InputFilesResource

from .input_files import file_key

observe_inputs_job = dg.define_asset_job(
    "observe_input_files",
    selection=dg.AssetSelection.assets(*(file_key(kind) for kind in CANDIDATES)),
    description="Observe the input files: their DataVersion is the hash of their content.",
)


def file_stamps(input_files: InputFilesResource) -> dict[str, list]:
    """(path, size, mtime) of every input file: cheap to read, changes whenever a file may have changed."""
    stamps = {}
    for kind in CANDIDATES:
        path = input_files.path(kind)
        stat = path.stat() if path is not None else None
        stamps[kind] = [str(path), stat.st_size, stat.st_mtime_ns] if stat else None
    return stamps


@dg.sensor(job=observe_inputs_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def input_files_sensor(context: dg.SensorEvaluationContext, input_files: InputFilesResource):
    """Observes the input files when their size or modification time changes, so the UI marks exactly the
    affected assets Unsynced without a manual observe (an identical rewrite observes the same DataVersion)."""
    stamps = file_stamps(input_files)
    cursor = json.dumps(stamps, sort_keys=True)
    if cursor == context.cursor:
        return dg.SkipReason("input files unchanged")
    context.update_cursor(cursor)
    return dg.RunRequest(run_key=hashlib.sha256(cursor.encode()).hexdigest()[:16])
