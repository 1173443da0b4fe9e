"""Each kind of bad value, end to end: delivered in a landing file or sent by a source, loaded
with dlt, built with ``dbt build``, and handled by its policy (README, "Bad values").

- An event timestamp in an unknown format, or naming a moment that does not exist: the event
  is set aside with its reason (``int_events_rejected``), a test warns, nothing stops.

One embedded server for the module: a tiny clean shop, loaded and built, with hand-made files.
"""

from __future__ import annotations

import gzip
import json

import pytest
from helpers import (
    TEST_API_TOKEN,
    free_port,
    landing_dir,
    load,
    query,
    run_dbt,
    shop_url,
    simulator,
)

from demo_sources.config import Mess
from demo_sources.payments_api import PaymentsApiServer

BAD_TIMESTAMP_EVENTS = {
    "late-tracker-unknown-format": "2026-01-02 10:00:00",
    "late-tracker-impossible-date": "2026-02-30T10:00:00Z",
    "late-tracker-good": "2026-01-02T10:00:00Z",
}
"""Three events from a tracker with a bad clock: one in a format the files never use, one on a
day that does not exist, and one that is fine."""


def event_line(event_id: str, occurred_at: str) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "event_type": "page_view",
            "occurred_at": occurred_at,
            "session_id": "late-tracker-session",
            "properties": {"path": "/"},
        }
    )


@pytest.fixture(scope="module")
def dbt_env(module_server) -> dict[str, str]:
    target = module_server.paths.data_dir / "dbt-target"
    return {"PGPORT": str(module_server.settings.port), "DBT_TARGET_PATH": str(target)}


@pytest.fixture(scope="module")
def api(module_server):
    with PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN) as api:
        yield api.url


@pytest.fixture(scope="module")
def built(module_server, api, dbt_env):
    """Three clean days of a tiny shop plus a file of events with bad timestamps, loaded and
    built once."""
    simulator(module_server).init(3, scale="tiny", mess=Mess.only())
    events = landing_dir(module_server) / "events" / "2026-01-02-late-tracker.jsonl.gz"
    lines = [event_line(event_id, text) for event_id, text in BAD_TIMESTAMP_EVENTS.items()]
    events.write_bytes(gzip.compress("\n".join(lines).encode()))
    for name in ("shop", "payments", "landing"):
        load(module_server, name, api)
    return run_dbt("build", env=dbt_env)


def test_events_with_unreadable_timestamps_warn_and_stop_nothing(built):
    assert built.returncode == 0, built.stdout[-5000:]
    assert "ERROR=0" in built.stdout
    assert "Warning in test not_null_stg_landing__events_occurred_at" in built.stdout
    assert "Got 2 results, configured to warn if != 0" in built.stdout
    assert "SKIP=0" in built.stdout


def test_events_with_unreadable_timestamps_are_set_aside_with_the_reason(built, module_server):
    rejected = query(
        module_server,
        "select event_id, rejection_reason, occurred_at_as_delivered"
        " from intermediate.int_events_rejected order by event_id",
    )

    assert rejected == [
        ("late-tracker-impossible-date", "impossible date or time", "2026-02-30T10:00:00Z"),
        ("late-tracker-unknown-format", "unknown timestamp format", "2026-01-02 10:00:00"),
    ]


def test_events_with_unreadable_timestamps_are_in_no_model_after_staging(built, module_server):
    sessionised = query(
        module_server,
        "select event_id from intermediate.int_events_sessionised"
        " where event_id like 'late-tracker-%%'",
    )
    days = query(module_server, "select count(*) from marts.fct_daily_activity")[0][0]

    assert sessionised == [("late-tracker-good",)]
    assert days > 0
