"""The whole slice, end to end against real Postgres: shop database -> dlt -> dbt, via Dagster."""

import pytest
from conftest import query, run_dbt
from dagster import DagsterInstance

from demo_sources.simulator import ShopSimulator
from warehouse.settings import SHOP_DATABASE

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
            "raw_events.events",
            "raw_events.marketing_spend",
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
    ShopSimulator(warehouse).init(5, scale="tiny")
    result = run_refresh_job()
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    return result


@pytest.fixture(scope="module")
def loaded(warehouse, first_run):
    return warehouse


def test_mart_matches_the_source_computed_independently(loaded):
    expected = query(loaded, SOURCE_CUSTOMER_VALUES, SHOP_DATABASE)
    mart = {
        row[0]: row
        for row in query(
            loaded, "select customer_id, order_count, lifetime_value from marts.dim_customers"
        )
    }

    assert expected
    assert [mart[customer_id] for customer_id, _, _ in expected] == expected


def test_raw_orders_hold_every_source_order(loaded):
    source_orders = query(loaded, "select count(*) from orders", SHOP_DATABASE)[0][0]

    assert table_counts(loaded)["raw_shop.orders"] == source_orders


def test_dagster_records_dlt_row_counts(loaded, first_run):
    materializations = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in first_run.get_asset_materialization_events()
    }

    for table, source in (
        ("raw_shop/customers", "customers"),
        ("raw_payments/payments", "payments.payments"),
    ):
        source_rows = query(loaded, f"select count(*) from {source}", SHOP_DATABASE)[0][0]
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
