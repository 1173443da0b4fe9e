"""Daily partitions, for the assets that are built a day at a time, and what a partition (or a
range of them, in one backfill run) means to dlt and dbt.

They start on the first day of data, ``daily_partitions_start`` in ``.dlt/config.toml`` beside the
sources it describes (or ``DAILY_PARTITIONS_START``). Days are UTC days, as the models'
``to_utc_date`` makes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta

import dlt
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetPartitionStatus,
    DailyPartitionsDefinition,
)


def first_day_of_data() -> str:
    """``daily_partitions_start`` (``YYYY-MM-DD``) from dlt's configuration."""
    first_day = dlt.config.get("daily_partitions_start")
    if not first_day:
        raise ValueError(
            "Set daily_partitions_start (the first day of data, YYYY-MM-DD) in .dlt/config.toml "
            "or DAILY_PARTITIONS_START."
        )
    return str(first_day)


daily_partitions = DailyPartitionsDefinition(start_date=first_day_of_data(), timezone="UTC")


def days_in_window(start: datetime, end: datetime) -> list[str]:
    """The days of a partition window, end exclusive: what a load reloads."""
    return [
        (start + timedelta(days=offset)).date().isoformat() for offset in range((end - start).days)
    ]


def dbt_vars_for_window(start: datetime, end: datetime) -> dict[str, str]:
    """The dbt vars that make an incremental model rebuild exactly the window (end exclusive),
    as its ``incremental_window`` macro reads them."""
    return {"start_date": start.date().isoformat(), "end_date": end.date().isoformat()}


def days_materialized(
    keys: Iterable[AssetKey], days: Iterable[str]
) -> Iterator[AssetMaterialization]:
    """What a run without a partition says of the daily assets ``keys`` it wrote ``days`` of:
    each day (that is a partition) materialised, so the UI's partition status tells the truth
    about the daily path (the schedule, ``make run``) too."""
    partitions = set(daily_partitions.get_partition_keys())
    for key in sorted(keys):
        for day in sorted(set(days) & partitions):
            yield AssetMaterialization(asset_key=key, partition=day)


def days_rewritten(
    held: Iterable[str], statuses: Mapping[str, AssetPartitionStatus | None], lookback_days: int
) -> list[str]:
    """The days an incremental build of a daily model is reported to have written: the days it
    holds that Dagster does not show as materialized yet (the first build, days a failed run
    left), and the days every build rewrites (``lookback_days`` before its newest day, as
    ``incremental_window`` reads them). Reporting every day held would add one event per day of
    history to every run."""
    held = sorted(set(held))
    if not held:
        return []
    window_start = (date.fromisoformat(held[-1]) - timedelta(days=lookback_days)).isoformat()
    return [
        day
        for day in held
        if day >= window_start or statuses.get(day) != AssetPartitionStatus.MATERIALIZED
    ]
