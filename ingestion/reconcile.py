"""Reconciliation: after a load, every merge table in raw has as many rows as its source table.

Merge tables hold one row per source key, deletions included, so any difference means rows were
missed, duplicated or kept after they left the source. The check is a plain function returning
one result per table, so the command line, tests and Dagster asset checks share it.

The payments API has no count endpoint, so its tables are counted in the demo service's own
database; a real API would be reconciled through whatever total it reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from warehouse.connection import connect
from warehouse.settings import SHOP_DATABASE, WarehouseSettings

RECONCILED_TABLES = {
    # raw table: (source database, source table)
    ("raw_shop", "customers"): (SHOP_DATABASE, ("public", "customers")),
    ("raw_shop", "products"): (SHOP_DATABASE, ("public", "products")),
    ("raw_shop", "orders"): (SHOP_DATABASE, ("public", "orders")),
    ("raw_shop", "order_items"): (SHOP_DATABASE, ("public", "order_items")),
    ("raw_payments", "payments"): (SHOP_DATABASE, ("payments", "payments")),
    ("raw_payments", "refunds"): (SHOP_DATABASE, ("payments", "refunds")),
}


@dataclass(frozen=True)
class Reconciliation:
    raw_table: str
    source_table: str
    raw_rows: int
    source_rows: int

    @property
    def ok(self) -> bool:
        return self.raw_rows == self.source_rows

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"MISMATCH ({self.raw_rows - self.source_rows:+,})"
        return (
            f"{self.raw_table}: {self.raw_rows:,} rows, source {self.source_table}: "
            f"{self.source_rows:,} rows: {verdict}"
        )


def reconcile(settings: WarehouseSettings, schemas: tuple[str, ...] = ()) -> list[Reconciliation]:
    """Row counts of the merge tables in raw (only ``schemas`` if given) against their sources.

    A table that does not exist counts as empty: a source table with rows and no raw table is
    a mismatch, and a table nobody has written to yet (no refunds so far) is not.
    """
    tables = {
        raw: source for raw, source in RECONCILED_TABLES.items() if not schemas or raw[0] in schemas
    }
    results = []
    for (raw_schema, raw_table), (database, source_table) in tables.items():
        results.append(
            Reconciliation(
                raw_table=f"{raw_schema}.{raw_table}",
                source_table=".".join(source_table),
                raw_rows=_count(settings, settings.database, (raw_schema, raw_table)),
                source_rows=_count(settings, database, source_table),
            )
        )
    return results


def _count(settings: WarehouseSettings, database: str, table: tuple[str, str]) -> int:
    conn = connect(settings, database)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("select to_regclass(%s)", (".".join(table),))
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(*table)))
            return cursor.fetchone()[0]
    finally:
        conn.close()
