"""When the graph runs on its own."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

refresh_warehouse = define_asset_job(
    name="refresh_warehouse",
    selection=AssetSelection.all(),
    description="Load every source with dlt, then build and test every dbt model.",
)

daily_refresh = ScheduleDefinition(
    name="daily_refresh",
    job=refresh_warehouse,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
