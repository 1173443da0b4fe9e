"""What a daily partition, or a range of them, means to dlt and to dbt."""

from datetime import UTC, datetime

from dagster import AssetPartitionStatus

from orchestration.partitions import (
    daily_partitions,
    days_in_window,
    days_rewritten,
    dbt_vars_for_window,
)


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_one_partition_is_one_day():
    assert days_in_window(utc("2026-01-05"), utc("2026-01-06")) == ["2026-01-05"]


def test_a_backfill_range_lists_every_day_end_exclusive():
    days = days_in_window(utc("2026-01-30"), utc("2026-02-02"))

    assert days == ["2026-01-30", "2026-01-31", "2026-02-01"]


def test_dbt_vars_are_the_window_end_exclusive():
    assert dbt_vars_for_window(utc("2026-01-05"), utc("2026-01-08")) == {
        "start_date": "2026-01-05",
        "end_date": "2026-01-08",
    }


def test_partition_windows_are_utc_days():
    window = daily_partitions.time_window_for_partition_key("2026-03-29")

    assert days_in_window(window.start, window.end) == ["2026-03-29"]
    assert window.start.utcoffset().total_seconds() == 0


def test_a_first_build_reports_every_day_it_holds():
    held = ["2026-01-01", "2026-01-02", "2026-01-03"]

    assert days_rewritten(held, {}, lookback_days=1) == held


def test_later_builds_report_the_days_they_rewrite_not_all_history():
    held = [f"2026-01-{day:02}" for day in range(1, 31)]
    done = dict.fromkeys(held, AssetPartitionStatus.MATERIALIZED)

    assert days_rewritten(held, done, lookback_days=3) == [
        "2026-01-27",
        "2026-01-28",
        "2026-01-29",
        "2026-01-30",
    ]


def test_a_day_a_failed_run_left_is_reported_once_it_is_built():
    held = ["2026-01-01", "2026-01-02", "2026-01-03"]
    statuses = {
        "2026-01-01": AssetPartitionStatus.FAILED,
        "2026-01-02": AssetPartitionStatus.MATERIALIZED,
        "2026-01-03": AssetPartitionStatus.MATERIALIZED,
    }

    assert days_rewritten(held, statuses, lookback_days=0) == ["2026-01-01", "2026-01-03"]
