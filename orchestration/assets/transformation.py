"""The dbt project as assets: every model, seed and snapshot, with dbt tests as asset checks.

Models tagged ``daily_partitioned`` in dbt are daily-partitioned assets of their own: a run for
a partition (or a backfill of a range, in one dbt invocation) passes the window to dbt as vars
``start_date`` and ``end_date`` (end exclusive), which the model's ``incremental_window`` macro
rebuilds exactly. Without a partition (the daily refresh, ``make run``) they build incrementally
like any other model. Tagging another model is all it takes to partition it too.
"""

import json
from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.partitions import daily_partitions, dbt_vars_for_window
from orchestration.translators import WarehouseDbtTranslator

DAILY_PARTITIONED = "tag:daily_partitioned"


def dbt_model_assets(manifest_path: Path) -> list[AssetsDefinition]:
    """The project's nodes from ``manifest_path``: the daily-partitioned models, and the rest."""

    @dbt_assets(
        manifest=manifest_path,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        exclude=DAILY_PARTITIONED,
    )
    def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
        """`dbt build` of the selected models: each model is built, then tested."""
        yield from dbt.cli(["build"], context=context).stream()

    @dbt_assets(
        manifest=manifest_path,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        select=DAILY_PARTITIONED,
        name="dbt_daily_models",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def dbt_daily_models(context: AssetExecutionContext, dbt: DbtCliResource):
        """`dbt build` of the daily models, for the run's days when it has a partition."""
        args = ["build"]
        if context.has_partition_key:
            window = context.partition_time_window
            days = dbt_vars_for_window(window.start, window.end)
            context.log.info(f"Rebuilding {days['start_date']} to {days['end_date']} (exclusive)")
            args += ["--vars", json.dumps(days)]
        yield from dbt.cli(args, context=context).stream()

    return [dbt_models, dbt_daily_models]
