"""The whole slice, end to end against real Postgres: shop database -> dlt -> dbt, via Dagster."""

from decimal import Decimal

import pytest
from conftest import run_dbt
from dagster import DagsterInstance

from demo_sources import shop
from warehouse.connection import connect

EXPECTED_DIM_CUSTOMERS = [
    # customer_id, order_count, lifetime_value (cancelled orders excluded)
    (1, 2, Decimal("155.50")),
    (2, 2, Decimal("131.99")),
    (3, 2, Decimal("240.00")),
    (4, 2, Decimal("83.00")),
    (5, 0, Decimal("0")),
]


def query(settings, sql: str) -> list[tuple]:
    conn = connect(settings)
    with conn, conn.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    conn.close()
    return rows


def table_counts(settings) -> dict[str, int]:
    return {
        table: query(settings, f"select count(*) from {table}")[0][0]
        for table in ("raw_shop.customers", "raw_shop.orders", "marts.dim_customers")
    }


def run_refresh_job():
    from orchestration.definitions import defs

    return defs.resolve_job_def("refresh_warehouse").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )


@pytest.fixture(scope="module")
def loaded(warehouse, dbt_manifest):
    """The demo shop seeded and the refresh job run once through Dagster."""
    shop.seed(warehouse)
    result = run_refresh_job()
    assert result.success, [event.message for event in result.all_events if event.is_failure]
    return warehouse


def test_mart_has_the_expected_rows(loaded):
    rows = query(
        loaded,
        "select customer_id, order_count, lifetime_value from marts.dim_customers order by 1",
    )

    assert rows == EXPECTED_DIM_CUSTOMERS


def test_raw_tables_hold_every_source_row(loaded):
    assert table_counts(loaded) == {
        "raw_shop.customers": len(shop.CUSTOMERS),
        "raw_shop.orders": len(shop.ORDERS),
        "marts.dim_customers": len(shop.CUSTOMERS),
    }


def test_dagster_records_dlt_row_counts(loaded):
    from orchestration.definitions import defs

    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("refresh_warehouse").execute_in_process(instance=instance)
    materializations = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }

    assert materializations["raw_shop/customers"]["rows_loaded"].value == len(shop.CUSTOMERS)
    assert materializations["raw_shop/orders"]["rows_loaded"].value == len(shop.ORDERS)
    assert "marts/dim_customers" in materializations


def test_rerunning_changes_nothing(loaded):
    before = table_counts(loaded)
    shop.seed(loaded)

    result = run_refresh_job()

    assert result.success
    assert table_counts(loaded) == before


def test_dbt_build_standalone_passes(loaded):
    result = run_dbt("build")

    assert result.returncode == 0, result.stdout
    assert "ERROR=0" in result.stdout
