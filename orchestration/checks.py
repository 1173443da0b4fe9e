"""Asset checks beyond dbt's tests (which dagster-dbt turns into checks on each model by itself,
blocking for error severity, reporting for warn).

**Reconciliation**: after a load, each raw merge table holds as many rows as its source table
(``ingestion.reconcile``). Blocking: a mismatch stops everything downstream in the same run.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from ingestion.reconcile import RECONCILED_TABLES, reconcile
from orchestration.resources import WarehouseResource
from orchestration.translators import warehouse_table_key

RECONCILIATION_CHECK = "row_count_matches_source"


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset=warehouse_table_key(schema, table),
            blocking=True,
            description=f"Rows in {schema}.{table} equal rows in the source's "
            f"{'.'.join(source[1])}: nothing missed, duplicated or kept after deletion.",
        )
        for (schema, table), source in RECONCILED_TABLES.items()
    ],
    can_subset=True,
    name="raw_tables_reconcile",
)
def raw_tables_reconcile(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[AssetCheckResult]:
    """Count every selected raw table and its source table."""
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    for result in reconcile(warehouse.settings()):
        schema, table = result.raw_table.split(".")
        key = warehouse_table_key(schema, table)
        if key not in selected:
            continue
        yield AssetCheckResult(
            asset_key=key,
            check_name=RECONCILIATION_CHECK,
            passed=result.ok,
            severity=AssetCheckSeverity.ERROR,
            description=str(result),
            metadata={"raw_rows": result.raw_rows, "source_rows": result.source_rows},
        )
