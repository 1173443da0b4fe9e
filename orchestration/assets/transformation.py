"""The dbt project as assets: every model, seed and snapshot, with dbt tests as asset checks.

Models tagged ``daily_partitioned`` in dbt are daily-partitioned assets of their own: a run for
a partition (or a backfill of a range, in one dbt invocation) passes the window to dbt as vars
``start_date`` and ``end_date`` (end exclusive), which the model's ``incremental_window`` macro
rebuilds exactly. Without a partition (the daily refresh, ``make run``) they build incrementally
like any other model, and the days it wrote are reported as materialised partitions: every day
the model holds that Dagster does not show as materialised yet, and the days of its incremental
window (``lookback_days``), which every build rewrites; the other days stay as they were built,
so each is up to date. A daily model's ``unique_key`` is its day column (it is incremental by day).
Tagging another model is all it takes to partition it too.
"""

import json
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    BackfillPolicy,
    Output,
    get_dagster_logger,
)
from dagster_dbt import DbtCliInvocation, dbt_assets

from orchestration.partitions import (
    daily_partitions,
    days_materialized,
    days_rewritten,
    dbt_vars_for_window,
)
from orchestration.project import dbt_var
from orchestration.resources import WarehouseDbtCliResource
from orchestration.translators import WarehouseDbtTranslator
from warehouse.connection import WarehouseUnavailable, connect

DAILY_PARTITIONED = "tag:daily_partitioned"
ROW_COUNT = "dagster/row_count"
"""Dagster's metadata key for the rows a table holds."""


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
        yield from with_row_counts(dbt.cli(["build"], context=context), dbt)

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
        yield from with_row_counts(dbt.cli(args, context=context), dbt)
        if not context.has_partition_key:
            for key in sorted(context.selected_asset_keys):
                relation, day_column = day_columns[key]
                held = list(days_held(dbt, relation, day_column))
                statuses = context.instance.get_status_by_partition(key, held, daily_partitions)
                days = days_rewritten(held, statuses or {}, dbt_var("lookback_days"))
                yield from days_materialized([key], days)

    day_columns = daily_model_day_columns(manifest_path)
    return [dbt_models, dbt_daily_models]


def with_row_counts(invocation: DbtCliInvocation, dbt: WarehouseDbtCliResource) -> Iterator[Any]:
    """The invocation's events as dagster-dbt streams them, each table the build wrote with its
    row count (``dagster/row_count``), counted as dbt's user while dbt goes on building.

    dagster-dbt's ``fetch_row_counts()`` does the same, but waits for its counts by polling in a
    loop that never sleeps: it kept one of this machine's two cores busy for the whole build,
    which then took twice as long (``bench/orchestration.py``). Here the stream is read in this
    thread and counts wait on their futures. Views are not counted (that would run their query).
    """
    nodes = invocation.manifest["nodes"]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="row_count") as pool:
        pending: deque[Future] = deque()
        for event in invocation.stream():
            pending.append(pool.submit(_with_row_count, event, nodes, dbt))
            while pending and pending[0].done():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _with_row_count(event: Any, nodes: Mapping[str, Any], dbt: WarehouseDbtCliResource) -> Any:
    if not isinstance(event, AssetMaterialization | Output) or "unique_id" not in event.metadata:
        return event
    node = nodes.get(event.metadata["unique_id"].value)
    if not node or node["config"]["materialized"] in ("view", "ephemeral"):
        return event
    try:
        connection = connect(dbt.warehouse.settings())
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(f"select count(*) from {node['relation_name']}")
                (rows,) = cursor.fetchone()
        finally:
            connection.close()
    except (psycopg2.Error, WarehouseUnavailable) as error:
        # Metadata only: the build itself succeeded, as dbt said.
        get_dagster_logger().warning(f"No row count for {node['relation_name']}: {error}")
        return event
    return event.with_metadata({**event.metadata, ROW_COUNT: rows})


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
