"""Partial rebuilds: observe the input files, then materialize only the assets that are unsynced or missing.

Staleness comes from Dagster itself (the resolver behind the UI's "Unsynced" badge): a source's DataVersion is the
hash of its file, a materialization's DataVersion derives from its code_version and its inputs' versions. Dagster
marks only the asset whose own input or code changed; its descendants turn stale once it is rebuilt. "Unsynced"
here is therefore what a rebuild must redo: Dagster's stale or missing assets and everything downstream of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.observe import observe
from dagster._time import get_current_datetime

REBUILD = (StaleStatus.STALE, StaleStatus.MISSING)


class RebuildFailed(RuntimeError):
    """A step of the rebuild failed; the message names the steps (details are in the run's logs)."""


def stale_status_resolver(instance: dg.DagsterInstance, assets: Sequence) -> CachingStaleStatusResolver:
    """Dagster's staleness view of ``assets`` as recorded in ``instance`` right now."""
    graph = AssetGraph.from_assets(assets)
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    return CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)


def statuses(instance: dg.DagsterInstance, assets: Sequence) -> dict[str, StaleStatus]:
    """Dagster's status of every materializable asset: FRESH, STALE or MISSING."""
    resolver = stale_status_resolver(instance, assets)
    keys = [key for a in assets if isinstance(a, dg.AssetsDefinition) and a.is_materializable for key in a.keys]
    return {key.to_user_string(): resolver.get_status(key) for key in keys}


def unsynced(instance: dg.DagsterInstance, assets: Sequence) -> dict[str, str]:
    """Assets a rebuild must materialize, with why: "stale" or "missing" (Dagster's status), or "downstream"."""
    direct = {key: status for key, status in statuses(instance, assets).items() if status in REBUILD}
    graph = AssetGraph.from_assets(assets)
    result = {key: status.value.lower() for key, status in direct.items()}
    frontier = [dg.AssetKey.from_user_string(key) for key in direct]
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            name = child.to_user_string()
            if name not in result and graph.get(child).is_materializable:
                result[name] = "downstream"
                frontier.append(child)
    return result


def observe_sources(instance: dg.DagsterInstance, assets: Sequence, resources: dict) -> None:
    sources = [a for a in assets if isinstance(a, dg.SourceAsset) and a.is_observable]
    observe(sources, instance=instance, resources=resources)


def rebuild(instance: dg.DagsterInstance, assets: Sequence, checks: Sequence, resources: dict) -> list[str]:
    """Observe the sources and materialize the unsynced and missing assets (with their checks) in dependency order.

    Returns the keys it rebuilt, in no particular order; an empty list when everything is up to date.
    """
    observe_sources(instance, assets, resources)
    todo = sorted(unsynced(instance, assets))
    if todo:
        selection = dg.AssetSelection.assets(*todo)
        result = dg.materialize([*assets, *checks], instance=instance, resources=resources, selection=selection,
                                raise_on_error=False)
        if not result.success:
            failures = [event for event in result.all_events if event.is_step_failure]
            details = "; ".join(
                f"{event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[-1]}"
                for event in failures if event.step_failure_data.error
            )
            raise RebuildFailed(f"run {result.run_id} failed: {details or 'see the run in the Dagster UI'}")
    return todo
