"""Each kind of bad value, end to end: delivered in a landing file or sent by a source, loaded
with dlt, built with ``dbt build``, and handled by its policy (README, "Bad values").

- An event timestamp in an unknown format, or naming a moment that does not exist: the event
  is set aside with its reason (``int_events_rejected``), a test warns, nothing stops.
- Money in another currency than EUR, or that cannot be read as a number, in marketing spend and
  in payments alike: the build stops everything that sums it, whose tables keep their last good
  build; the failing rows are kept in ``test_failures``.

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


MARKETING_CSV = (
    "date,channel,campaign,spend,impressions,clicks,currency\n"
    "2026-01-02,search,search_in_dollars,12.50,1000,10,USD\n"
    "2026-01-02,social,social_unreadable,n/a,2000,20,EUR\n"
)
"""An agency's file: one campaign billed in dollars, one whose spend is not a number."""


def rows_of(server, relation: str) -> list[tuple]:
    return query(server, f"select * from {relation} order by 1, 2")


def test_spend_in_another_currency_or_unreadable_stops_the_report_on_its_last_good_build(
    built, module_server, dbt_env
):
    report_before = rows_of(module_server, "marts.rpt_daily_revenue_by_channel")
    orders_before = rows_of(module_server, "marts.fct_orders")
    agency_file = landing_dir(module_server) / "marketing" / "2026-01-02-agency.csv"
    agency_file.write_text(MARKETING_CSV)
    load(module_server, "landing")
    try:
        blocked = run_dbt("build", env=dbt_env)
        stored_currencies = query(
            module_server,
            "select value_field from"
            ' test_failures."accepted_values_stg_landing__marketing_spend_currency_code__EUR"',
        )
        stored_spend = query(
            module_server,
            "select campaign_id from test_failures.not_null_stg_landing__marketing_spend_spend",
        )
        raw_text = query(
            module_server,
            "select spend__v_text from raw_landing.marketing_spend"
            " where campaign = 'social_unreadable'",
        )
    finally:
        query(
            module_server,
            "delete from raw_landing.marketing_spend"
            " where campaign in ('search_in_dollars', 'social_unreadable')",
        )

    assert blocked.returncode == 1
    assert "ERROR=2" in blocked.stdout, blocked.stdout[-5000:]
    assert "Failure in test accepted_values_stg_landing__marketing_spend_currency_code__EUR" in (
        blocked.stdout
    )
    assert "Failure in test not_null_stg_landing__marketing_spend_spend" in blocked.stdout
    assert "SKIP relation marts.rpt_daily_revenue_by_channel" in blocked.stdout
    assert "SKIP relation marts.fct_orders" not in blocked.stdout
    assert rows_of(module_server, "marts.rpt_daily_revenue_by_channel") == report_before
    assert rows_of(module_server, "marts.fct_orders") == orders_before
    assert stored_currencies == [("USD",)]
    assert stored_spend == [("social_unreadable",)]
    assert raw_text == [("n/a",)]


def test_a_payment_in_another_currency_or_unreadable_stops_all_that_sums_payments(
    built, module_server, dbt_env
):
    orders_before = rows_of(module_server, "marts.fct_orders")
    payments_before = rows_of(module_server, "marts.fct_payments")
    (in_dollars, unreadable, unreadable_cents) = query(
        module_server,
        "select min(payment_id), max(payment_id),"
        " (select amount_cents from raw_payments.payments order by payment_id desc limit 1)"
        " from raw_payments.payments",
    )[0]
    # What dlt does with an amount it cannot type: the text in a variant column, the column null.
    query(
        module_server,
        "alter table raw_payments.payments add column amount_cents__v_text text;"
        " update raw_payments.payments set currency = 'USD' where payment_id = %s;"
        " update raw_payments.payments set amount_cents = null, amount_cents__v_text = '12,50'"
        " where payment_id = %s",
        params=(in_dollars, unreadable),
    )
    try:
        blocked = run_dbt("build", env=dbt_env)
    finally:
        query(
            module_server,
            "update raw_payments.payments set currency = 'EUR' where payment_id = %s;"
            " update raw_payments.payments set amount_cents = %s, amount_cents__v_text = null"
            " where payment_id = %s",
            params=(in_dollars, unreadable_cents, unreadable),
        )

    assert blocked.returncode == 1
    assert "ERROR=2" in blocked.stdout, blocked.stdout[-5000:]
    assert "Failure in test accepted_values_stg_payments__payments_currency_code__EUR" in (
        blocked.stdout
    )
    assert "Failure in test not_null_stg_payments__payments_amount" in blocked.stdout
    for model in ("intermediate.int_orders_enriched", "marts.fct_orders", "marts.fct_payments"):
        assert f"SKIP relation {model}" in blocked.stdout
    assert rows_of(module_server, "marts.fct_orders") == orders_before
    assert rows_of(module_server, "marts.fct_payments") == payments_before
