"""The shop's operational database into ``raw_shop``, with dlt's ``sql_database`` source.

Schema contract: dlt's default (``evolve``). New tables and columns in the shop appear in raw
on the next load; raw columns other than keys are nullable, so a column the app stops filling
never aborts a load. Constraints are dbt's job, downstream.

How rows move:

- **Arrow route.** The ``connectorx`` backend reads batches as Arrow tables over Postgres's
  binary protocol, with the source's own column types, and the pipeline writes them to Postgres
  with ``COPY`` (see :mod:`ingestion.pipelines`). ``bench/ingest.py`` measures it against a
  plain COPY.
- **Incremental merge.** Each table is read where ``updated_at`` is at or after the last value
  loaded, minus :data:`LAG_SECONDS`, and merged on its primary key. The overlap catches rows
  whose transaction committed after a later ``updated_at`` had already been loaded; rows read
  twice merge onto themselves, so reruns change nothing.
- **Hard deletes.** The app deletes customers outright (erasure requests), which no
  ``updated_at`` can show. For the tables in :data:`HARD_DELETE_TABLES` every load also compares
  the keys in raw with the keys in the source, and sends a deletion record for each key that
  is gone. dlt's ``hard_delete`` column hint turns
  those records into deletes, so raw holds exactly the source's rows (personal data included:
  an erasure request must reach the warehouse). A comparison that would delete more than
  :data:`MAX_DELETED_FRACTION` of a table stops the load instead: an emptied or wrong source
  database looks exactly like a mass deletion.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import connectorx as cx
import dlt
import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltSource
from dlt.sources.sql_database import sql_database
from dlt.sources.sql_database.helpers import ConnectorXTableLoader

from ingestion.pipelines import warehouse_pipeline
from warehouse.settings import SHOP_DATABASE, WarehouseSettings

DATASET_NAME = "raw_shop"

PRIMARY_KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}
"""The tables we load and their keys, stated rather than reflected so merges never fall back to
appends when reflection is deferred."""

CURSOR_COLUMN = "updated_at"
LAG_SECONDS = 3600
"""How far back each incremental read reaches before the last ``updated_at`` loaded."""

HARD_DELETE_TABLES = ("customers",)
"""Tables whose rows the app deletes; their keys are reconciled on every load."""
DELETED_COLUMN = "_deleted_in_source"
"""The hard-delete flag on deletion records; never true on a row that stays in raw."""
MAX_DELETED_FRACTION = 0.2
"""A load may delete at most this share of a table's rows in raw."""


class ShopSourceError(RuntimeError):
    """The shop cannot be loaded safely; the message says why."""


class DeletionDetectingLoader(ConnectorXTableLoader):
    """dlt's ConnectorX table loader, plus deletion records for keys that left the source.

    The source's keys are read right after the changed rows. A row deleted between the two
    reads is upserted by this load and deleted by the next one.
    """

    def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        table = self.table.name
        for batch in super().load_rows(backend_kwargs):
            yield _key_required(batch, PRIMARY_KEYS[table])
        if table not in HARD_DELETE_TABLES:
            return
        key = PRIMARY_KEYS[table]
        source_keys = cx.read_sql(
            self.get_connection_url(),
            f"select {key} from {self.table.schema}.{table}",
            return_type="arrow",
        )[key].to_numpy()
        deleted = _deleted_keys(table, _raw_keys(table, key), source_keys)
        if deleted.size:
            records = pa.Table.from_arrays(
                [
                    pa.array(deleted, pa.int64()),
                    pa.nulls(deleted.size, pa.timestamp("us", tz="UTC")),
                    pa.array(np.ones(deleted.size, dtype=bool)),
                ],
                schema=pa.schema(
                    [
                        pa.field(key, pa.int64(), nullable=False),
                        pa.field(CURSOR_COLUMN, pa.timestamp("us", tz="UTC")),
                        pa.field(DELETED_COLUMN, pa.bool_()),
                    ]
                ),
            )
            # Hints given with an item replace the table's column hints: send them all.
            columns = {
                **self.columns,
                DELETED_COLUMN: {"name": DELETED_COLUMN, "data_type": "bool", "hard_delete": True},
            }
            yield dlt.mark.with_hints(records, dlt.mark.make_hints(columns=columns))


def _key_required(batch: pa.Table, key: str) -> pa.Table:
    """ConnectorX marks every column nullable; the key is not, as dlt's hints say."""
    index = batch.schema.get_field_index(key)
    if index < 0 or not batch.schema.field(index).nullable:
        return batch
    return batch.cast(batch.schema.set(index, batch.schema.field(index).with_nullable(False)))


def _raw_keys(table: str, key: str) -> np.ndarray:
    """The keys of ``table`` already in raw, read through the running pipeline's destination."""
    with dlt.current.pipeline().sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        try:
            with client.execute_query(f"select {key} from {qualified}") as cursor:
                rows = cursor.fetchall()
        except DatabaseUndefinedRelation:
            return np.empty(0, dtype=np.int64)
    return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))


def _deleted_keys(table: str, raw_keys: np.ndarray, source_keys: np.ndarray) -> np.ndarray:
    deleted = np.setdiff1d(raw_keys, source_keys, assume_unique=True)
    if raw_keys.size and deleted.size > MAX_DELETED_FRACTION * raw_keys.size:
        raise ShopSourceError(
            f"{deleted.size} of the {raw_keys.size} rows of {DATASET_NAME}.{table} are no longer "
            f"in the shop's {table} table ({source_keys.size} rows): refusing to delete more "
            f"than {MAX_DELETED_FRACTION:.0%} of a table in one load. If the source really "
            f"lost those rows, delete them from {DATASET_NAME}.{table} by hand and rerun."
        )
    return deleted


def _nullable_except_keys(table: sa.Table) -> sa.Table:
    """Raw columns accept nulls whatever the app enforces; only primary keys stay required."""
    for column in table.columns:
        if not column.primary_key:
            column.nullable = True
    return table


def shop_source(settings: WarehouseSettings, chunk_size: int = 100_000) -> DltSource:
    """The shop database's tables as dlt resources, one per table, merged on primary key.

    Table reflection is deferred to extraction, so building the source never connects: Dagster
    can load its definitions while the database is down.
    """
    source = sql_database.with_args(name="shop")(
        credentials=settings.url(SHOP_DATABASE, driver="psycopg2"),
        schema="public",
        table_names=list(PRIMARY_KEYS),
        defer_table_reflect=True,
        backend="connectorx",
        # Batches of chunk_size rows, read over Postgres's binary COPY protocol.
        backend_kwargs={"return_type": "arrow_stream", "batch_size": chunk_size},
        chunk_size=chunk_size,
        table_adapter_callback=_nullable_except_keys,
        table_loader_class=DeletionDetectingLoader,
    )
    for table, primary_key in PRIMARY_KEYS.items():
        source.resources[table].apply_hints(
            primary_key=primary_key,
            write_disposition="merge",
            incremental=dlt.sources.incremental(
                CURSOR_COLUMN,
                lag=LAG_SECONDS,
                # Deletion records carry no updated_at; every real row has one.
                on_cursor_value_missing="include" if table in HARD_DELETE_TABLES else "raise",
            ),
        )
    return source


def shop_pipeline(settings: WarehouseSettings, progress: str | None = None) -> dlt.Pipeline:
    """The pipeline that loads :func:`shop_source` into ``raw_shop``."""
    return warehouse_pipeline("shop", DATASET_NAME, settings, progress)
