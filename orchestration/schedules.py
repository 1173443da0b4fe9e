"""When the graph runs on its own."""

from dagster import ScheduleDefinition

from orchestration.jobs import refresh_warehouse

daily_refresh = ScheduleDefinition(
    name="daily_refresh",
    job=refresh_warehouse,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
