"""The dlt pipelines against real sources: the shop database, the payments API over HTTP and
files in a landing folder, loading into a real Postgres."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
from conftest import TEST_API_TOKEN, free_port, query
from dlt.pipeline.exceptions import PipelineStepFailed

from demo_sources.payments_api import PaymentsApiServer
from demo_sources.simulator import ShopSimulator
from ingestion.landing import landing, landing_pipeline
from ingestion.payments import payments_pipeline, payments_source
from ingestion.pipelines import extracted_rows, run
from ingestion.reconcile import reconcile
from ingestion.shop import LAG_SECONDS, ShopSourceError, shop_pipeline, shop_source
from warehouse.settings import SHOP_DATABASE

MERGE_TABLES = (
    "raw_shop.customers",
    "raw_shop.products",
    "raw_shop.orders",
    "raw_shop.order_items",
    "raw_payments.payments",
    "raw_payments.refunds",
)


def load_shop(settings) -> dict[str, int]:
    pipeline = shop_pipeline(settings)
    run(pipeline, shop_source(settings))
    return extracted_rows(pipeline)


def load_payments(settings, url: str, token: str = TEST_API_TOKEN) -> dict[str, int]:
    pipeline = payments_pipeline(settings)
    run(pipeline, payments_source(base_url=url, api_token=token, page_size=7))
    return extracted_rows(pipeline)


def load_landing(settings) -> dict[str, int]:
    pipeline = landing_pipeline(settings)
    run(pipeline, landing(settings))
    return extracted_rows(pipeline)


def checksums(settings) -> dict[str, str]:
    """Every merge table's content, dlt's bookkeeping columns left out."""
    sums = {}
    for table in MERGE_TABLES:
        columns = [
            name
            for (name,) in query(
                settings,
                "select column_name from information_schema.columns"
                " where table_schema || '.' || table_name = %s and column_name not like '_dlt%%'"
                " order by column_name",
                params=(table,),
            )
        ]
        row = f"({', '.join(columns)})"
        sums[table] = query(
            settings, f"select md5(string_agg({row}::text, '|' order by {row}::text)) from {table}"
        )[0][0]
    return sums


def lines_in_files(settings) -> int:
    events = settings.data_dir / "landing" / "events"
    return sum(gzip.decompress(path.read_bytes()).count(b"\n") for path in events.iterdir())


@pytest.fixture(scope="module")
def shop(module_server):
    """A small shop with every default mess, its payments API, and a first load of everything."""
    ShopSimulator(module_server).init(6, scale="tiny")
    with PaymentsApiServer(module_server, port=free_port(), token=TEST_API_TOKEN) as api:
        first = {
            **load_shop(module_server),
            **load_payments(module_server, api.url),
            **load_landing(module_server),
        }
        yield module_server, first, api.url


def test_first_load_matches_every_source(shop):
    settings, first, _ = shop

    results = reconcile(settings)

    assert [str(result) for result in results if not result.ok] == []
    assert (
        first["customers"] == query(settings, "select count(*) from customers", SHOP_DATABASE)[0][0]
    )
    rejected = query(settings, "select count(*) from raw_events._rejected_lines")[0][0]
    events = query(settings, "select count(*) from raw_events.events")[0][0]
    assert events + rejected == lines_in_files(settings)


@pytest.mark.parametrize("table", ["customers", "products", "orders", "order_items"])
def test_raw_values_equal_the_source_values(shop, table):
    settings = shop[0]
    columns = [
        name
        for (name,) in query(
            settings,
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = %s order by ordinal_position",
            SHOP_DATABASE,
            (table,),
        )
    ]
    select = f"select {', '.join(columns)} from {{}} order by 1"

    source = query(settings, select.format(table), SHOP_DATABASE)
    raw = query(settings, select.format(f"raw_shop.{table}"))

    assert raw == source


def test_refunds_split_from_their_payments_equal_the_source_refunds(shop):
    settings, _, api_url = shop
    # A tiny shop may have no returns yet: refund one payment in the source, at the shop's
    # simulated time (a real "now" would move the incremental cursor past later payments).
    query(
        settings,
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
        SHOP_DATABASE,
    )
    load_payments(settings, api_url)
    columns = "refund_id, payment_id, {amount}, reason, created_at"

    source = query(
        settings,
        f"select {columns.format(amount='(amount * 100)::bigint')} from payments.refunds"
        " order by refund_id",
        SHOP_DATABASE,
    )
    raw = query(
        settings,
        f"select {columns.format(amount='amount_cents')} from raw_payments.refunds order by 1",
    )
    payment_columns = query(
        settings,
        "select column_name from information_schema.columns"
        " where table_schema = 'raw_payments' and table_name = 'payments'",
    )

    assert source
    assert raw == source
    assert ("refunds",) not in payment_columns


def test_advance_then_load_reads_exactly_the_changed_rows(shop):
    settings, _, api_url = shop
    (last_loaded,) = query(settings, "select max(updated_at) from raw_shop.orders")[0]
    ShopSimulator(settings).advance(2)
    (changed,) = query(
        settings,
        "select count(*) from orders where updated_at >= %s",
        SHOP_DATABASE,
        (last_loaded - timedelta(seconds=LAG_SECONDS),),
    )[0]

    loaded = load_shop(settings)
    load_payments(settings, api_url)
    load_landing(settings)

    assert loaded["orders"] == changed
    assert [str(result) for result in reconcile(settings) if not result.ok] == []


def test_deleted_customers_leave_raw(shop):
    settings = shop[0]
    source = {row[0] for row in query(settings, "select customer_id from customers", SHOP_DATABASE)}
    raw = {row[0] for row in query(settings, "select customer_id from raw_shop.customers")}
    (max_id,) = query(settings, "select max(customer_id) from customers", SHOP_DATABASE)[0]

    deleted = set(range(1, max_id + 1)) - source
    assert deleted, "the simulator deleted no customer in these days"
    assert raw == source
    (flagged,) = query(
        settings, "select count(*) from raw_shop.customers where _deleted_in_source"
    )[0]
    assert flagged == 0


def test_rerunning_three_times_changes_nothing(shop):
    settings, _, api_url = shop
    before = checksums(settings)
    events = query(settings, "select count(*) from raw_events.events")[0][0]

    for _ in range(3):
        load_shop(settings)
        load_payments(settings, api_url)
        assert load_landing(settings) == {}, "a landing file was loaded twice"

    assert checksums(settings) == before
    assert query(settings, "select count(*) from raw_events.events")[0][0] == events


def test_a_row_committed_late_is_picked_up_by_the_lag_window(shop):
    settings = shop[0]
    (latest,) = query(settings, "select max(updated_at) from raw_shop.products")[0]
    query(
        settings,
        "update products set price = price + 1, updated_at = %s"
        " where product_id = 1 returning product_id",
        SHOP_DATABASE,
        (latest - timedelta(minutes=10),),
    )

    load_shop(settings)

    source = query(settings, "select price from products where product_id = 1", SHOP_DATABASE)
    assert query(settings, "select price from raw_shop.products where product_id = 1") == source


def test_payments_survive_rate_limits_and_refuse_a_wrong_token(shop):
    settings = shop[0]
    with PaymentsApiServer(
        settings, port=free_port(), token=TEST_API_TOKEN, rate_limit_every=2
    ) as limited:
        load_payments(settings, limited.url)
        with pytest.raises(PipelineStepFailed, match="401"):
            load_payments(settings, limited.url, token="wrong-token")

    assert [str(r) for r in reconcile(settings, ("raw_payments",)) if not r.ok] == []


def test_an_unreadable_file_is_reported_skipped_and_loaded_once_fixed(shop):
    settings = shop[0]
    ShopSimulator(settings).advance(1)
    newest = max((settings.data_dir / "landing" / "events").iterdir())
    good = newest.read_bytes()
    newest.write_bytes(good[: len(good) // 2])

    loaded = load_landing(settings)

    assert "events" not in loaded and loaded["marketing_spend"] > 0
    rejected = query(
        settings,
        "select reason from raw_events._rejected_files where file_name = %s",
        params=(f"events/{newest.name}",),
    )
    assert rejected and "cannot read the file" in rejected[0][0]

    newest.write_bytes(good)
    assert load_landing(settings)["events"] > 0
    assert load_landing(settings) == {}


def test_a_mass_deletion_in_the_source_stops_the_load(shop):
    settings = shop[0]
    raw_before = query(settings, "select count(*) from raw_shop.customers")[0][0]
    query(
        settings,
        "alter table orders drop constraint orders_customer_id_fkey;"
        " delete from customers where customer_id %% 2 = 0 returning 1",
        SHOP_DATABASE,
    )

    with pytest.raises(PipelineStepFailed) as failure:
        load_shop(settings)

    assert isinstance(failure.value.exception.__cause__, ShopSourceError)
    assert "refusing to delete" in str(failure.value)
    assert query(settings, "select count(*) from raw_shop.customers")[0][0] == raw_before
