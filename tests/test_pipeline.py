"""The whole slice, end to end against real Postgres: shop database -> dlt -> dbt, via Dagster."""

import pytest
from dagster import AssetKey, DagsterInstance
from helpers import duplicated_first_order, query, run_dbt, shop_query, simulator

SOURCE_CUSTOMER_VALUES = """
select
    customers.customer_id,
    count(orders.order_id) as order_count,
    coalesce(sum(
        case when orders.status in ('paid', 'shipped', 'completed') then totals.total else 0 end
    ), 0) as lifetime_value
from customers
left join orders on orders.customer_id = customers.customer_id
left join (
    select order_id, sum(quantity * unit_price) as total from order_items group by order_id
) as totals on totals.order_id = orders.order_id
group by customers.customer_id
order by customers.customer_id
"""


def table_counts(settings) -> dict[str, int]:
    return {
        table: query(settings, f"select count(*) from {table}")[0][0]
        for table in (
            "raw_shop.customers",
            "raw_shop.orders",
            "raw_payments.payments",
            "raw_landing.events",
            "raw_landing.marketing_spend",
            "marts.dim_customers",
        )
    }


def run_refresh_job(instance=None):
    from orchestration.definitions import defs

    return defs.resolve_job_def("refresh_warehouse").execute_in_process(
        instance=instance or DagsterInstance.ephemeral(), raise_on_error=False
    )


@pytest.fixture(scope="module")
def first_run(warehouse, payments_api, dbt_manifest):
    """The demo shop with a few days of history, and the refresh job run once through Dagster."""
    simulator(warehouse).init(5, scale="tiny")
    result = run_refresh_job()
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    return result


@pytest.fixture(scope="module")
def loaded(warehouse, first_run):
    return warehouse


def test_mart_matches_the_source_computed_independently(loaded):
    expected = shop_query(loaded, SOURCE_CUSTOMER_VALUES)
    mart = {
        row[0]: row
        for row in query(
            loaded, "select customer_id, order_count, lifetime_value from marts.dim_customers"
        )
    }

    assert expected
    assert [mart[customer_id] for customer_id, _, _ in expected] == expected


def test_raw_orders_hold_every_source_order(loaded):
    source_orders = shop_query(loaded, "select count(*) from orders")[0][0]

    assert table_counts(loaded)["raw_shop.orders"] == source_orders


def test_the_dagster_load_indexes_the_file_tables_by_load(loaded):
    indexed = query(
        loaded,
        "select tablename from pg_indexes"
        " where schemaname = 'raw_landing' and indexdef ~ '[(]_dlt_load_id[)]$'",
    )

    assert sorted(table for (table,) in indexed) == ["events", "marketing_spend"]


def test_dagster_records_dlt_row_counts(loaded, first_run):
    materializations = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in first_run.get_asset_materialization_events()
    }

    for table, source in (
        ("raw_shop/customers", "customers"),
        ("raw_payments/payments", "payments.payments"),
    ):
        source_rows = shop_query(loaded, f"select count(*) from {source}")[0][0]
        assert materializations[table]["rows_loaded"].value == source_rows, table
    assert "marts/dim_customers" in materializations


def test_rerunning_changes_nothing(loaded):
    before = table_counts(loaded)

    result = run_refresh_job()

    assert result.success
    assert table_counts(loaded) == before


def test_dbt_build_standalone_passes(loaded):
    result = run_dbt("build")

    assert result.returncode == 0, result.stdout
    assert "ERROR=0" in result.stdout


def test_a_failing_dbt_test_blocks_its_downstream_and_fails_the_run(loaded):
    from orchestration.definitions import defs

    dbt_keys = sorted(defs.resolve_assets_def(AssetKey(["marts", "fct_orders"])).keys)
    with duplicated_first_order(loaded):
        result = defs.resolve_job_def("refresh_warehouse").execute_in_process(
            instance=DagsterInstance.ephemeral(), raise_on_error=False, asset_selection=dbt_keys
        )
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}

    assert not result.success
    assert AssetKey(["staging", "stg_landing__events"]) in materialized, "unrelated models build"
    assert AssetKey(["staging", "stg_shop__orders"]) not in materialized
    assert AssetKey(["marts", "fct_orders"]) not in materialized
    assert AssetKey(["marts", "dim_customers"]) not in materialized
    for relation in ("marts.fct_orders", "intermediate.int_orders_enriched"):
        assert query(loaded, "select to_regclass(%s)", params=(relation,))[0][0], relation


def test_a_one_day_backfill_of_daily_activity_changes_only_that_day(loaded):
    from orchestration.definitions import defs

    days = [
        day
        for (day,) in query(
            loaded, "select distinct activity_date from marts.fct_daily_activity order by 1"
        )
    ]
    backfilled, untouched = days[1], days[2]
    # Product views become page views on both days in the daily mart's input (raw events are
    # only ever appended to, so the change is made where the incremental events models keep
    # them).
    viewed = [
        event_id
        for (event_id,) in query(
            loaded,
            "update intermediate.int_events_sessionised set event_type = 'page_view'"
            " where event_type = 'product_view'"
            " and timezone('UTC', occurred_at)::date in (%s, %s) returning event_id",
            params=(backfilled, untouched),
        )
    ]
    assert viewed, "the test needs product views on both days"
    views_by_day = (
        "select activity_date, sum(product_view_count) from marts.fct_daily_activity group by 1"
    )
    before = dict(query(loaded, views_by_day))
    job = defs.resolve_implicit_global_asset_job_def()

    def materialize(key: list[str], partition_key: str | None = None):
        return job.execute_in_process(
            instance=DagsterInstance.ephemeral(),
            asset_selection=[AssetKey(key)],
            partition_key=partition_key,
        )

    # Only one day of the daily mart is backfilled.
    try:
        result = materialize(["marts", "fct_daily_activity"], backfilled.isoformat())
        after = dict(query(loaded, views_by_day))
    finally:
        query(
            loaded,
            "update intermediate.int_events_sessionised set event_type = 'product_view'"
            " where event_id = any(%s)",
            params=(viewed,),
        )
        materialize(["marts", "fct_daily_activity"], backfilled.isoformat())

    assert result.success
    assert after[backfilled] < before[backfilled]
    assert {day: total for day, total in after.items() if day != backfilled} == {
        day: total for day, total in before.items() if day != backfilled
    }


def test_a_one_day_backfill_of_the_landing_tables_reloads_exactly_that_day(loaded):
    from orchestration.definitions import defs

    landing_keys = sorted(defs.resolve_assets_def(AssetKey(["raw_landing", "events"])).keys)
    rows_by_file = (
        "select _file_name, count(*), count(distinct event_id) from raw_landing.events group by 1"
    )
    rejected_by_file = "select file_name, count(*) from raw_landing._rejected_lines group by 1"
    before = {file: counts for file, *counts in query(loaded, rows_by_file)}
    rejected_before = dict(query(loaded, rejected_by_file))
    reloaded, damaged = sorted(before)[1:3]
    # Half of two days' rows go missing from raw.
    query(
        loaded,
        "delete from raw_landing.events where _file_name in (%s, %s) and _line_number %% 2 = 0",
        params=(reloaded, damaged),
    )

    def backfill(file_name: str):
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=DagsterInstance.ephemeral(),
            asset_selection=landing_keys,
            partition_key=file_name.split("/")[-1][:10],
            raise_on_error=False,
        )

    first = backfill(reloaded)
    after = {file: counts for file, *counts in query(loaded, rows_by_file)}
    second = backfill(damaged)
    restored = {file: counts for file, *counts in query(loaded, rows_by_file)}

    # The reconciliation check sees the day still damaged after the first backfill, by name.
    failed_checks = [
        evaluation.description
        for evaluation in first.get_asset_check_evaluations()
        if not evaluation.passed
    ]
    assert len(failed_checks) == 1 and damaged in failed_checks[0], failed_checks
    assert second.success
    assert all(evaluation.passed for evaluation in second.get_asset_check_evaluations())
    assert after[reloaded] == before[reloaded]
    assert after[damaged][0] < before[damaged][0]
    assert {f: c for f, c in after.items() if f != damaged} == {
        f: c for f, c in before.items() if f != damaged
    }
    assert restored == before
    assert dict(query(loaded, rejected_by_file)) == rejected_before


def test_the_landing_tables_refuse_to_load_only_some_of_them(loaded):
    from orchestration.definitions import defs

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=DagsterInstance.ephemeral(),
        asset_selection=[AssetKey(["raw_landing", "events"])],
        raise_on_error=False,
    )

    assert not result.success
    assert any(
        "The landing tables load together" in str(event.event_specific_data.error)
        for event in result.all_events
        if event.is_step_failure
    )
