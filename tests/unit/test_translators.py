"""Small translations between dbt's vocabulary and Dagster's."""

from datetime import timedelta

from orchestration.freshness import freshness_window
from orchestration.translators import dagster_owners


def test_owners_names_become_teams_and_emails_stay():
    assert dagster_owners("analytics") == ["team:analytics"]
    assert dagster_owners(["a@example.com", "team:data"]) == ["a@example.com", "team:data"]
    assert dagster_owners(None) == []


def test_freshness_thresholds_become_windows():
    assert freshness_window({"count": 26, "period": "hour"}) == timedelta(hours=26)
    assert freshness_window({"count": 2, "period": "day"}) == timedelta(days=2)
    assert freshness_window({"count": None, "period": None}) is None
    assert freshness_window(None) is None
