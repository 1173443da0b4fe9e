"""Freshness of the raw tables, from the dbt sources that read them.

An analyst sets ``freshness: {warn_after, error_after}`` on a dbt source; the dlt asset that
loads that table gets the same windows as a Dagster freshness policy, so the thresholds live in
one place and Dagster flags a raw table that has not been loaded in time.
"""

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from dagster import AssetKey, AssetsDefinition, AssetSpec, FreshnessPolicy, map_asset_specs

from orchestration.translators import warehouse_table_key

PERIODS = {"minute": "minutes", "hour": "hours", "day": "days"}


def freshness_window(threshold: dict | None) -> timedelta | None:
    """A dbt freshness threshold (``{count: 26, period: hour}``) as a time window; None when
    the threshold is not set."""
    if not threshold or not threshold.get("count") or not threshold.get("period"):
        return None
    return timedelta(**{PERIODS[threshold["period"]]: threshold["count"]})


def source_freshness_policies(manifest_path: Path) -> dict[AssetKey, FreshnessPolicy]:
    """Each dbt source table's freshness as a policy, keyed by the raw table's asset key."""
    manifest = json.loads(manifest_path.read_text())
    policies = {}
    for source in manifest["sources"].values():
        freshness = source.get("freshness") or {}
        fail_window = freshness_window(freshness.get("error_after"))
        if fail_window is None:
            continue
        key = warehouse_table_key(source["schema"], source["identifier"])
        policies[key] = FreshnessPolicy.time_window(
            fail_window=fail_window, warn_window=freshness_window(freshness.get("warn_after"))
        )
    return policies


def with_source_freshness(
    assets: Sequence[AssetsDefinition], manifest_path: Path
) -> Sequence[AssetsDefinition | AssetSpec]:
    """``assets`` with the freshness policy of the dbt source that reads each of their tables."""
    policies = source_freshness_policies(manifest_path)

    def apply(spec: AssetSpec) -> AssetSpec:
        policy = policies.get(spec.key)
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    return map_asset_specs(apply, assets)
