"""Daily partitions, for the assets that are built a day at a time, and what a partition (or a
range of them, in one backfill run) means to dlt and dbt.

They start on the first day of data: ``DAILY_PARTITIONS_START`` (``YYYY-MM-DD``), by default the
demo shop's first day. Days are UTC days, as the models' ``to_utc_date`` makes them.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from dagster import DailyPartitionsDefinition

daily_partitions = DailyPartitionsDefinition(
    start_date=os.environ.get("DAILY_PARTITIONS_START", "2026-01-01"), timezone="UTC"
)


def days_in_window(start: datetime, end: datetime) -> list[str]:
    """The days of a partition window, end exclusive: what a load reloads."""
    return [
        (start + timedelta(days=offset)).date().isoformat() for offset in range((end - start).days)
    ]


def dbt_vars_for_window(start: datetime, end: datetime) -> dict[str, str]:
    """The dbt vars that make an incremental model rebuild exactly the window (end exclusive),
    as its ``incremental_window`` macro reads them."""
    return {"start_date": start.date().isoformat(), "end_date": end.date().isoformat()}
