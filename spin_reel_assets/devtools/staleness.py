"""Partial rebuilds: observe the input files, then materialize only the assets that are unsynced or missing.

Staleness is read from the instance through Dagster's public event-log API, by the rule behind the UI's
"Unsynced" badge: an asset is stale when its code_version differs from the one its latest materialization
recorded, or when an upstream asset's current data version (a source's latest observation, an asset's latest
materialization) differs from the input data version that materialization recorded. Dagster marks only the asset
whose own input or code changed; its descendants turn stale once it is rebuilt. "Unsynced" here is therefore what
a rebuild must redo: the stale or missing assets and everything downstream of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

FRESH, STALE, MISSING = "fresh", "stale", "missing"

# Tags Dagster writes on every materialization (shown in the UI's event details).
CODE_VERSION_TAG = "dagster/code_version"
DATA_VERSION_TAG = "dagster/data_version"
INPUT_VERSION_TAG = "dagster/input_data_version/"


class RebuildFailed(RuntimeError):
    """A step of the rebuild failed; the message names the steps (details are in the run's logs)."""


def _specs(assets: Sequence) -> dict[dg.AssetKey, tuple[dg.AssetSpec, bool]]:
    """Every asset spec of ``assets`` with whether it is materializable (not an observed source)."""
    return {spec.key: (spec, not asset.is_observable) for asset in assets
            if isinstance(asset, dg.AssetsDefinition) for spec in asset.specs}


def _current_version(instance: dg.DagsterInstance, key: dg.AssetKey, materializable: bool) -> str | None:
    if materializable:
        event = instance.get_latest_materialization_event(key)
        return event.asset_materialization.tags.get(DATA_VERSION_TAG) if event else None
    records = instance.fetch_observations(key, limit=1).records
    return records[0].asset_observation.data_version if records else None


def statuses(instance: dg.DagsterInstance, assets: Sequence) -> dict[str, str]:
    """The status of every materializable asset: fresh, stale or missing."""
    specs = _specs(assets)
    result = {}
    for key, (spec, materializable) in specs.items():
        if not materializable:
            continue
        event = instance.get_latest_materialization_event(key)
        if event is None:
            result[key.to_user_string()] = MISSING
            continue
        tags = event.asset_materialization.tags
        stale = spec.code_version is not None and tags.get(CODE_VERSION_TAG) != spec.code_version
        for dep in spec.deps:
            recorded = tags.get(INPUT_VERSION_TAG + dep.asset_key.to_user_string())
            upstream = specs.get(dep.asset_key)
            if upstream is not None and recorded != _current_version(instance, dep.asset_key, upstream[1]):
                stale = True
        result[key.to_user_string()] = STALE if stale else FRESH
    return result


def unsynced(instance: dg.DagsterInstance, assets: Sequence) -> dict[str, str]:
    """Assets a rebuild must materialize, with why: "stale", "missing", or "downstream"."""
    result = {key: status for key, status in statuses(instance, assets).items() if status != FRESH}
    children: dict[str, list[str]] = {}
    for spec, materializable in _specs(assets).values():
        for dep in spec.deps:
            if materializable:
                children.setdefault(dep.asset_key.to_user_string(), []).append(spec.key.to_user_string())
    frontier = list(result)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in result:
                result[child] = "downstream"
                frontier.append(child)
    return result


def _failure_details(result) -> str:
    failures = [event for event in result.all_events if event.is_step_failure]
    return "; ".join(
        f"{event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[-1]}"
        for event in failures if event.step_failure_data.error
    )


def observe_sources(instance: dg.DagsterInstance, assets: Sequence, resources: dict) -> None:
    """Observe the input files (a run of the observable source), so their DataVersions are current."""
    sources = [key for key, (_, materializable) in _specs(assets).items() if not materializable]
    result = dg.materialize(assets, instance=instance, resources=resources,
                            selection=dg.AssetSelection.assets(*sources), raise_on_error=False)
    if not result.success:
        raise RebuildFailed(f"observing the input files failed: {_failure_details(result) or 'see the run'}")


REBUILD_JOB = "spin_reel_rebuild"


def project_asset_job() -> dg.JobDefinition:
    """Every asset of the project with its Definitions' resources and executor: the job ``dg.reconstructable``
    rebuilds in each step process of a ``rebuild(..., step_processes=True)``."""
    from spin_reel_assets.definitions import defs

    project = defs()
    return dg.Definitions(assets=project.assets, resources=project.resources, executor=project.executor,
                          jobs=[dg.define_asset_job(REBUILD_JOB)]).resolve_job_def(REBUILD_JOB)


def rebuild(instance: dg.DagsterInstance, assets: Sequence, resources: dict, step_processes: bool = False) -> list[str]:
    """Observe the sources and materialize the unsynced and missing assets (with their checks) in dependency order.

    In this process with ``resources`` by default; with ``step_processes`` as ``dagster asset materialize`` runs
    them: the project's Definitions (their resources from the environment) under its executor, a process per step
    and independent steps at once (the MongoDB write beside the content index). Returns the keys it rebuilt, sorted;
    an empty list when everything is up to date.
    """
    observe_sources(instance, assets, resources)
    todo = sorted(unsynced(instance, assets))
    if todo:
        selection = [dg.AssetKey.from_user_string(key) for key in todo]
        if step_processes:
            result = dg.execute_job(dg.reconstructable(project_asset_job), instance, asset_selection=selection)
        else:
            result = dg.materialize(assets, instance=instance, resources=resources,
                                    selection=dg.AssetSelection.assets(*selection), raise_on_error=False)
        if not result.success:
            raise RebuildFailed(f"run {result.run_id} failed: {_failure_details(result) or 'see the run in the Dagster UI'}")
    return todo
