"""The loads of the registry against real sources: the shop database, the payments API over
HTTP and files in a landing folder, loading into a real Postgres."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from helpers import (
    TEST_API_TOKEN,
    free_port,
    landing_dir,
    load,
    pipeline_for,
    query,
    reconcile,
    shop_columns,
    shop_query,
    shop_url,
    simulator,
)

from demo_sources.payments_api import PaymentsApiServer
from demo_sources.settings import ensure_database
from ingestion.database import DEFAULT_LAG_SECONDS, DatabaseLoad, SourceDatabaseError
from ingestion.load import run

MERGE_TABLES = (
    "raw_shop.customers",
    "raw_shop.products",
    "raw_shop.orders",
    "raw_shop.order_items",
    "raw_payments.payments",
    "raw_payments.refunds",
)


def load_payments(server, url: str, token: str = TEST_API_TOKEN) -> dict[str, int]:
    """The payments load with small pages, so every test crosses page boundaries."""
    return load(server, "payments", url, api_token=token, params={"limit": 7})


def all_results_ok(server, api_url: str) -> list[str]:
    """Every reconciliation that does not hold, as text (empty when all hold)."""
    return [
        str(result)
        for name in ("shop", "payments", "landing")
        for result in reconcile(server, name, api_url)
        if not result.ok
    ]


def checksums(server) -> dict[str, str]:
    """Every merge table's content, dlt's bookkeeping columns left out."""
    sums = {}
    for table in MERGE_TABLES:
        columns = [
            name
            for (name,) in query(
                server,
                "select column_name from information_schema.columns"
                " where table_schema || '.' || table_name = %s and column_name not like '_dlt%%'"
                " order by column_name",
                params=(table,),
            )
        ]
        row = f"({', '.join(columns)})"
        sums[table] = query(
            server, f"select md5(string_agg({row}::text, '|' order by {row}::text)) from {table}"
        )[0][0]
    return sums


def lines_in_files(server) -> int:
    events = landing_dir(server) / "events"
    return sum(gzip.decompress(path.read_bytes()).count(b"\n") for path in events.iterdir())


@pytest.fixture(scope="module")
def shop(module_server):
    """A small shop with every default mess, its payments API, and a first load of everything."""
    simulator(module_server).init(6, scale="tiny")
    with PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN) as api:
        first = {
            **load(module_server, "shop"),
            **load_payments(module_server, api.url),
            **load(module_server, "landing"),
        }
        yield module_server, first, api.url


def test_first_load_matches_every_source(shop):
    server, first, api_url = shop

    assert all_results_ok(server, api_url) == []
    assert first["customers"] == shop_query(server, "select count(*) from customers")[0][0]
    rejected = query(server, "select count(*) from raw_landing._rejected_lines")[0][0]
    events = query(server, "select count(*) from raw_landing.events")[0][0]
    assert events + rejected == lines_in_files(server)


@pytest.mark.parametrize("table", ["customers", "products", "orders", "order_items"])
def test_raw_values_equal_the_source_values(shop, table):
    server = shop[0]
    select = f"select {', '.join(shop_columns(server, table))} from {{}} order by 1"

    source = shop_query(server, select.format(table))
    raw = query(server, select.format(f"raw_shop.{table}"))

    assert raw == source


def test_refunds_split_from_their_payments_equal_the_source_refunds(shop):
    server, _, api_url = shop
    # A tiny shop may have no returns yet: refund one payment in the source, at the shop's
    # simulated time (a real "now" would move the incremental cursor past later payments).
    shop_query(
        server,
        """
        with refunded as (
            update payments.payments
            set status = 'refunded',
                updated_at = (select max(updated_at) from payments.payments) + interval '1 s'
            where payment_id = (select min(payment_id) from payments.payments)
            returning payment_id, amount
        )
        insert into payments.refunds (refund_id, payment_id, amount, reason, created_at)
        select coalesce((select max(refund_id) from payments.refunds), 0) + 1, payment_id, amount,
            'test refund', (select max(updated_at) from payments.payments) + interval '1 s'
        from refunded
        returning refund_id
        """,
    )
    load_payments(server, api_url)
    columns = "refund_id, payment_id, {amount}, reason, created_at"

    source = shop_query(
        server,
        f"select {columns.format(amount='(amount * 100)::bigint')} from payments.refunds"
        " order by refund_id",
    )
    raw = query(
        server,
        f"select {columns.format(amount='amount_cents')} from raw_payments.refunds order by 1",
    )
    payment_columns = query(
        server,
        "select column_name from information_schema.columns"
        " where table_schema = 'raw_payments' and table_name = 'payments'",
    )

    assert source
    assert raw == source
    assert ("refunds",) not in payment_columns


def test_advance_then_load_reads_exactly_the_changed_rows(shop):
    server, _, api_url = shop
    (last_loaded,) = query(server, "select max(updated_at) from raw_shop.orders")[0]
    simulator(server).advance(2)
    (changed,) = shop_query(
        server,
        "select count(*) from orders where updated_at >= %s",
        (last_loaded - timedelta(seconds=DEFAULT_LAG_SECONDS),),
    )[0]

    loaded = load(server, "shop")
    load_payments(server, api_url)
    load(server, "landing")

    assert loaded["orders"] == changed
    assert all_results_ok(server, api_url) == []


def test_deleted_customers_leave_raw(shop):
    server = shop[0]
    source = {row[0] for row in shop_query(server, "select customer_id from customers")}
    raw = {row[0] for row in query(server, "select customer_id from raw_shop.customers")}
    (max_id,) = shop_query(server, "select max(customer_id) from customers")[0]

    deleted = set(range(1, max_id + 1)) - source
    assert deleted, "the simulator deleted no customer in these days"
    assert raw == source
    (flagged,) = query(server, "select count(*) from raw_shop.customers where _deleted_in_source")[
        0
    ]
    assert flagged == 0


def test_rerunning_three_times_changes_nothing(shop):
    server, _, api_url = shop
    before = checksums(server)
    events = query(server, "select count(*) from raw_landing.events")[0][0]

    for _ in range(3):
        load(server, "shop")
        load_payments(server, api_url)
        assert load(server, "landing") == {}, "a landing file was loaded twice"

    assert checksums(server) == before
    assert query(server, "select count(*) from raw_landing.events")[0][0] == events


def test_a_row_committed_late_is_picked_up_by_the_lag_window(shop):
    server = shop[0]
    (latest,) = query(server, "select max(updated_at) from raw_shop.products")[0]
    shop_query(
        server,
        "update products set price = price + 1, updated_at = %s"
        " where product_id = 1 returning product_id",
        (latest - timedelta(minutes=10),),
    )

    load(server, "shop")

    source = shop_query(server, "select price from products where product_id = 1")
    assert query(server, "select price from raw_shop.products where product_id = 1") == source


def test_payments_survive_rate_limits_and_refuse_a_wrong_token(shop):
    server = shop[0]
    with PaymentsApiServer(
        shop_url(server), port=free_port(), token=TEST_API_TOKEN, rate_limit_every=2
    ) as limited:
        load_payments(server, limited.url)
        with pytest.raises(PipelineStepFailed, match="401"):
            load_payments(server, limited.url, token="wrong-token")
        results = reconcile(server, "payments", limited.url)

    assert [str(result) for result in results if not result.ok] == []


def test_an_unreadable_file_is_reported_skipped_and_loaded_once_fixed(shop):
    server = shop[0]
    simulator(server).advance(1)
    newest = max((landing_dir(server) / "events").iterdir())
    good = newest.read_bytes()
    newest.write_bytes(good[: len(good) // 2])

    loaded = load(server, "landing")

    assert "events" not in loaded and loaded["marketing_spend"] > 0
    rejected = query(
        server,
        "select reason from raw_landing._rejected_files where file_name = %s",
        params=(f"events/{newest.name}",),
    )
    assert rejected and "cannot read the file" in rejected[0][0]

    newest.write_bytes(good)
    assert load(server, "landing")["events"] > 0
    assert load(server, "landing") == {}


def test_a_mass_deletion_in_the_source_stops_the_load(shop):
    server = shop[0]
    raw_before = query(server, "select count(*) from raw_shop.customers")[0][0]
    shop_query(
        server,
        "alter table orders drop constraint orders_customer_id_fkey;"
        " delete from customers where customer_id %% 2 = 0 returning 1",
    )

    with pytest.raises(PipelineStepFailed) as failure:
        load(server, "shop")

    assert isinstance(failure.value.exception.__cause__, SourceDatabaseError)
    assert "refusing to delete" in str(failure.value)
    assert query(server, "select count(*) from raw_shop.customers")[0][0] == raw_before


ODDITIES = """
create table if not exists oddities (
    id bigint primary key,
    at timestamptz,
    day date,
    amount numeric(12, 2),
    ratio double precision,
    flag boolean,
    label text,
    updated_at timestamptz not null
);
insert into oddities values
    (1, '2026-03-29 01:59:59.999999+00', '2026-03-29', 1234567890.12, 0.1, true,
     'plain', '2026-01-01 00:00:00+00'),
    (2, '1969-12-31 23:59:59.000001+00', '1900-01-01', -0.01, -1e300, false,
     E'line\\nbreak, "quotes", back\\\\slash, tab\\t', '2026-01-01 00:00:00+00'),
    (3, '2999-12-31 23:59:59+05:30', '2999-12-31', 0, 'NaN', null,
     'ünïcødé ✓ 𝄞', '2026-01-01 00:00:00+00'),
    (4, null, null, null, null, null, null, '2026-01-01 00:00:00+00'),
    (5, '2026-06-01 12:00:00+00', '2026-06-01', 9999999999.99, 1.5, true, '',
     '2026-01-01 00:00:00+00')
on conflict do nothing;
"""


def test_every_value_survives_the_binary_route(module_server):
    """Issue 16: the database load sends Arrow batches as Parquet through ADBC's binary COPY.
    Time-zone-aware timestamps (microseconds, before 1970, far future), dates, numerics at
    their scale, floats (NaN too), booleans, text with every awkward character, and nulls in
    every column arrive exactly as the source holds them, in columns of the same types. (dlt's
    CSV route read the empty string as null.)"""
    server = module_server
    ensure_database(server.url("oddities"))
    query(server, ODDITIES, database="oddities")
    configured = DatabaseLoad("oddities").configured(
        credentials=server.url("oddities"),
        schema="public",
        tables={"oddities": {"primary_key": "id"}},
    )

    run(
        pipeline_for(server, configured),
        configured.source(),
        loader_file_format=configured.loader_file_format,
    )

    columns = "id, at, day, amount, ratio, flag, label, updated_at"
    source = query(server, f"select {columns} from oddities order by id", database="oddities")
    raw = query(server, f"select {columns} from raw_oddities.oddities order by id")
    assert [row[:4] + row[5:] for row in raw] == [row[:4] + row[5:] for row in source]
    assert [str(row[4]) for row in raw] == [str(row[4]) for row in source]
    types = (
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = 'oddities' and column_name not like '_dlt%%'"
        " order by column_name"
    )
    raw_types = dict(query(server, types, params=("raw_oddities",)))
    source_types = dict(query(server, types, database="oddities", params=("public",)))
    # dlt's text is Postgres's varchar without a length: the same type under another name.
    assert raw_types == {**source_types, "label": "character varying"}
