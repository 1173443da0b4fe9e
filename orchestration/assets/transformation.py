"""The dbt project as assets: every model, seed and snapshot, with dbt tests as asset checks.

Models tagged ``daily_partitioned`` in dbt are daily-partitioned assets of their own: a run for
a partition (or a backfill of a range, in one dbt invocation) passes the window to dbt as vars
``start_date`` and ``end_date`` (end exclusive), which the model's ``incremental_window`` macro
rebuilds exactly. Without a partition (the daily refresh, ``make run``) they build incrementally
like any other model, and every day the model then holds is reported as a materialised partition:
an incremental build rebuilds the days that changed and leaves the others as they were built, so
each is up to date. A daily model's ``unique_key`` is its day column (it is incremental by day).
Tagging another model is all it takes to partition it too.
"""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy
from dagster_dbt import dbt_assets

from orchestration.partitions import daily_partitions, days_materialized, dbt_vars_for_window
from orchestration.resources import WarehouseDbtCliResource
from orchestration.translators import WarehouseDbtTranslator
from warehouse.connection import connect

DAILY_PARTITIONED = "tag:daily_partitioned"


def dbt_model_assets(manifest_path: Path) -> list[AssetsDefinition]:
    """The project's nodes from ``manifest_path``: the daily-partitioned models, and the rest."""

    @dbt_assets(
        manifest=manifest_path,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        exclude=DAILY_PARTITIONED,
    )
    def dbt_models(context: AssetExecutionContext, dbt: WarehouseDbtCliResource):
        """`dbt build` of the selected models: each model is built (its row count recorded),
        then tested."""
        yield from dbt.cli(["build"], context=context).stream().fetch_row_counts()

    @dbt_assets(
        manifest=manifest_path,
        dagster_dbt_translator=WarehouseDbtTranslator(),
        select=DAILY_PARTITIONED,
        name="dbt_daily_models",
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def dbt_daily_models(context: AssetExecutionContext, dbt: WarehouseDbtCliResource):
        """`dbt build` of the daily models, for the run's days when it has a partition."""
        args = ["build"]
        if context.has_partition_key:
            window = context.partition_time_window
            days = dbt_vars_for_window(window.start, window.end)
            context.log.info(f"Rebuilding {days['start_date']} to {days['end_date']} (exclusive)")
            args += ["--vars", json.dumps(days)]
        yield from dbt.cli(args, context=context).stream().fetch_row_counts()
        if not context.has_partition_key:
            for key in sorted(context.selected_asset_keys):
                relation, day_column = day_columns[key]
                yield from days_materialized([key], days_held(dbt, relation, day_column))

    day_columns = daily_model_day_columns(manifest_path)
    return [dbt_models, dbt_daily_models]


def daily_model_day_columns(manifest_path: Path) -> Mapping[AssetKey, tuple[str, str]]:
    """Each daily-partitioned model's asset key: its relation and its day column."""
    translator = WarehouseDbtTranslator()
    manifest = json.loads(manifest_path.read_text())
    return {
        translator.get_asset_key(node): (node["relation_name"], node["config"]["unique_key"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "daily_partitioned" in node["tags"]
    }


def days_held(dbt: WarehouseDbtCliResource, relation: str, day_column: str) -> Iterator[str]:
    """The days ``relation`` holds rows for, read as dbt's user."""
    connection = connect(dbt.warehouse.settings())
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(f"select distinct {day_column}::date::text from {relation}")
            yield from (day for (day,) in cursor.fetchall())
    finally:
        connection.close()
