"""Asset checks beyond dbt's tests (which dagster-dbt turns into checks on each model by itself,
blocking for error severity, reporting for warn).

**Reconciliation**: after a load, each reconciled raw table agrees with its source, counted
through the source's own protocol (``Load.reconcile``): the database's rows over its own
connection, the API's reported totals, every file's lines. Blocking: a mismatch stops
everything downstream in the same run. One check per load, built from the registry.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    multi_asset_check,
)

from ingestion.load import Load
from orchestration.resources import WarehouseResource
from orchestration.translators import warehouse_table_key

RECONCILIATION_CHECK = "row_count_matches_source"


def reconciliation_check(load: Load) -> AssetChecksDefinition:
    """One blocking ``row_count_matches_source`` check per reconciled raw table of ``load``."""

    @multi_asset_check(
        specs=[
            AssetCheckSpec(
                RECONCILIATION_CHECK,
                asset=warehouse_table_key(load.dataset, table),
                blocking=True,
                description=f"{load.dataset}.{table} holds what the {load.name} source holds: "
                "nothing missed, duplicated or kept after deletion.",
            )
            for table in load.reconciled_tables()
        ],
        can_subset=True,
        name=f"{load.name}_reconciles",
    )
    def check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[AssetCheckResult]:
        selected = {key.asset_key for key in context.selected_asset_check_keys}
        for result in load.reconcile(load.pipeline(warehouse.settings())):
            key = warehouse_table_key(*result.raw_table.split("."))
            if key not in selected:
                continue
            yield AssetCheckResult(
                asset_key=key,
                check_name=RECONCILIATION_CHECK,
                passed=result.ok,
                severity=AssetCheckSeverity.ERROR,
                description=str(result),
                metadata={
                    "raw_rows": result.raw_rows,
                    "source_rows": result.source_rows,
                    "source": result.source,
                },
            )

    return check
