"""What a daily partition, or a range of them, means to dlt and to dbt."""

from datetime import UTC, datetime

from orchestration.partitions import daily_partitions, days_in_window, dbt_vars_for_window


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
