"""An application's PostgreSQL database into ``raw_<name>``, with dlt's ``sql_database`` source.

Configured under ``[sources.<name>]``:

- ``credentials``: a ``postgresql://user:password@host:port/database`` URL (a secret:
  ``SOURCES__<NAME>__CREDENTIALS`` or ``.dlt/secrets.toml``);
- ``schema``: the database schema to read;
- ``cursor_column``: the column every table updates on change (default ``updated_at``);
- ``[sources.<name>.tables]``: each table to load, with its ``primary_key`` and, for tables
  whose rows the application deletes, ``hard_deletes = true``.

Schema contract: dlt's default (``evolve``). New columns appear in raw on the next load; raw
columns other than keys are nullable, so a column the app stops filling never aborts a load.
Constraints are dbt's job, downstream.

How rows move:

- **Arrow route.** The ``connectorx`` backend reads batches as Arrow tables over Postgres's
  binary protocol, with the source's own column types. They stay Arrow all the way: written as
  Parquet load files, which dlt loads through ADBC (``adbc-driver-postgresql``) with Postgres's
  binary ``COPY``. No value is formatted as text on the way: formatting time-zone-aware
  timestamps as CSV was most of a load's time, and dlt's CSV ``COPY`` reads an empty string as
  null. ``bench/ingest.py`` measures the route against a plain COPY; ``tests/test_ingestion.py``
  compares every value with the source.
- **Incremental merge.** Each table is read where the cursor column is at or after the last
  value loaded, minus ``lag_seconds`` (default an hour), and merged on its primary key. The
  overlap catches rows whose transaction committed after a later change had already been
  loaded; rows read twice merge onto themselves, so reruns change nothing. One read holds each
  key once (it is the source table's key), so the merge does not deduplicate; a unique index on
  the key in raw and in dlt's staging table turns a file copied twice (a load killed between a
  ``COPY`` and dlt's record of it) into an error and a redone load, never a doubled row.
- **Hard deletes.** Rows an application deletes outright (erasure requests) show in no cursor.
  For tables with ``hard_deletes``, every load also compares the keys in raw with the keys in
  the source, and sends a deletion record for each key that is gone. dlt's ``hard_delete``
  column hint turns those records into deletes, so raw holds exactly the source's rows
  (personal data included: an erasure request must reach the warehouse). A comparison that
  would delete more than ``max_deleted_fraction`` (default 20%) of a table stops the load
  instead: an emptied or wrong source database looks exactly like a mass deletion.

**Reconciliation** counts each table's rows over the source's own connection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import connectorx as cx
import dlt
import numpy as np
import psycopg2
import pyarrow as pa
import sqlalchemy as sa
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltResource, DltSource
from dlt.sources.credentials import ConnectionStringCredentials
from dlt.sources.sql_database import sql_database
from dlt.sources.sql_database.helpers import ConnectorXTableLoader
from psycopg2 import sql

from ingestion.load import (
    Load,
    LoadConfigurationError,
    Reconciliation,
    SourceError,
    SourceSystem,
    count_rows,
)

DEFAULT_CURSOR_COLUMN = "updated_at"
DEFAULT_LAG_SECONDS = 3600
DEFAULT_MAX_DELETED_FRACTION = 0.2
DELETED_COLUMN = "_deleted_in_source"
"""The hard-delete flag on deletion records; never true on a row that stays in raw."""
DEFINITIONS_ONLY_URL = "postgresql+psycopg2://definitions-only@localhost/none"
"""Stands in for the credentials while Dagster lists the tables; never connected to."""
CONNECT_TIMEOUT_SECONDS = 10
MERGED_ON_KEY = {"disposition": "merge", "strategy": "delete-insert", "deduplicated": True}
"""Rows replace the rows of the same key. A database table's keys are unique in one read, so
dlt's merge skips deduplicating them (a sort of every row loaded: most of an initial load's
merge, ``bench/ingest.py``)."""


class SourceDatabaseError(SourceError):
    """The source database cannot be loaded safely; the message says why."""


@dlt.source
def database_source(
    credentials: ConnectionStringCredentials = dlt.secrets.value,
    schema: str = dlt.config.value,
    tables: dict[str, Any] = dlt.config.value,
    cursor_column: str = DEFAULT_CURSOR_COLUMN,
    lag_seconds: int = DEFAULT_LAG_SECONDS,
    max_deleted_fraction: float = DEFAULT_MAX_DELETED_FRACTION,
    chunk_size: int = 100_000,
) -> list[DltResource]:
    """One resource per configured table, merged on its primary key, read incrementally.

    Table reflection is deferred to extraction, so building the source never connects: Dagster
    can load its definitions while the database is down.
    """
    table_keys = primary_keys(tables)
    loader = type(
        "DeletionDetectingLoader",
        (DeletionDetectingLoader,),
        {
            "primary_keys": table_keys,
            "hard_delete_tables": frozenset(
                table for table, options in tables.items() if options.get("hard_deletes")
            ),
            "deletion_cursor": cursor_column,
            "max_deleted_fraction": max_deleted_fraction,
        },
    )
    tables_source = sql_database(
        credentials=with_psycopg2(credentials),
        schema=schema,
        table_names=list(table_keys),
        defer_table_reflect=True,
        backend="connectorx",
        # Batches of chunk_size rows, read over Postgres's binary COPY protocol.
        backend_kwargs={"return_type": "arrow_stream", "batch_size": chunk_size},
        chunk_size=chunk_size,
        table_adapter_callback=_nullable_except_keys,
        table_loader_class=loader,
    )
    for table, primary_key in table_keys.items():
        deletes = table in loader.hard_delete_tables
        tables_source.resources[table].apply_hints(
            primary_key=primary_key,
            write_disposition=MERGED_ON_KEY,
            # A unique index in raw and in dlt's staging table: a key loaded twice fails loudly
            # (and the load is redone) instead of doubling a row; merges find keys by index.
            columns={primary_key: {"name": primary_key, "unique": True}},
            incremental=dlt.sources.incremental(
                cursor_column,
                lag=lag_seconds,
                # Deletion records carry no cursor value; every real row has one.
                on_cursor_value_missing="include" if deletes else "raise",
            ),
        )
    return list(tables_source.resources.values())


def primary_keys(tables: Mapping[str, Any]) -> dict[str, str]:
    """Each configured table's primary key: stated rather than reflected, so merges never fall
    back to appends when reflection is deferred."""
    keys = {}
    for table, options in tables.items():
        if not isinstance(options, Mapping) or not options.get("primary_key"):
            raise LoadConfigurationError(
                f'table {table!r} needs a primary_key, e.g. {table} = {{primary_key = "id"}}'
            )
        keys[table] = options["primary_key"]
    return keys


def with_psycopg2(credentials: ConnectionStringCredentials | str) -> ConnectionStringCredentials:
    """The credentials with SQLAlchemy's psycopg2 driver: SQLAlchemy 2.1 reads a bare
    ``postgresql://`` URL as psycopg 3, which is not installed."""
    if isinstance(credentials, str):
        credentials = ConnectionStringCredentials(credentials)
    if credentials.drivername in ("postgresql", "postgres"):
        credentials = credentials.copy()
        credentials.drivername = "postgresql+psycopg2"
    return credentials


class DeletionDetectingLoader(ConnectorXTableLoader):
    """dlt's ConnectorX table loader, plus deletion records for keys that left the source.

    The source's keys are read right after the changed rows. A row deleted between the two
    reads is upserted by this load and deleted by the next one. :func:`database_source` sets the
    class attributes from the configuration.
    """

    primary_keys: Mapping[str, str] = {}
    hard_delete_tables: frozenset[str] = frozenset()
    deletion_cursor: str = DEFAULT_CURSOR_COLUMN
    """The cursor column, left empty in deletion records (dlt's own ``cursor_column`` is the
    incremental's SQLAlchemy column)."""
    max_deleted_fraction: float = DEFAULT_MAX_DELETED_FRACTION

    def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
        table = self.table.name
        key = self.primary_keys[table]
        changed = []
        for batch in super().load_rows(backend_kwargs):
            batch = _key_required(_declared_decimals(batch, self.columns), key)
            if table in self.hard_delete_tables:
                changed.append(batch[key].to_numpy())
            yield batch
        if table not in self.hard_delete_tables:
            return
        source_keys = cx.read_sql(
            self.get_connection_url(),
            f"select {key} from {self.table.schema}.{table}",
            return_type="arrow",
        )[key].to_numpy()
        deleted = self._deleted_keys(table, _raw_keys(table, key), source_keys)
        # A row deleted after it was read is loaded now and deleted by the next load: a key
        # appears once in a load, which merges without deduplicating.
        deleted = np.setdiff1d(deleted, np.concatenate([np.empty(0, np.int64), *changed]))
        if deleted.size:
            cursor = self.deletion_cursor
            records = pa.Table.from_arrays(
                [
                    pa.array(deleted, pa.int64()),
                    pa.nulls(deleted.size, pa.timestamp("us", tz="UTC")),
                    pa.array(np.ones(deleted.size, dtype=bool)),
                ],
                schema=pa.schema(
                    [
                        pa.field(key, pa.int64(), nullable=False),
                        pa.field(cursor, pa.timestamp("us", tz="UTC")),
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

    def _deleted_keys(
        self, table: str, raw_keys: np.ndarray, source_keys: np.ndarray
    ) -> np.ndarray:
        deleted = np.setdiff1d(raw_keys, source_keys, assume_unique=True)
        if raw_keys.size and deleted.size > self.max_deleted_fraction * raw_keys.size:
            dataset = dlt.current.pipeline().dataset_name
            raise SourceDatabaseError(
                f"{deleted.size} of the {raw_keys.size} rows of {dataset}.{table} are no longer "
                f"in the source's {table} table ({source_keys.size} rows): refusing to delete "
                f"more than {self.max_deleted_fraction:.0%} of a table in one load. If the "
                f"source really lost those rows, delete them from {dataset}.{table} by hand "
                "and rerun."
            )
        return deleted


def _key_required(batch: pa.Table, key: str) -> pa.Table:
    """ConnectorX marks every column nullable; the key is not, as dlt's hints say."""
    index = batch.schema.get_field_index(key)
    if index < 0 or not batch.schema.field(index).nullable:
        return batch
    return batch.cast(batch.schema.set(index, batch.schema.field(index).with_nullable(False)))


def _declared_decimals(batch: pa.Table, columns: Mapping[str, Any]) -> pa.Table:
    """``batch`` with each ``numeric(p, s)`` column as ``decimal(p, s)``: ConnectorX reads every
    numeric as ``decimal(38, 10)``, and dlt warns at each batch whose types differ from the
    table's columns."""
    schema = batch.schema
    for index, field in enumerate(schema):
        hints = columns.get(field.name) or {}
        precision, scale = hints.get("precision"), hints.get("scale")
        declared = precision is not None and scale is not None
        if (
            declared
            and pa.types.is_decimal(field.type)
            and (field.type.precision, field.type.scale) != (precision, scale)
        ):
            schema = schema.set(index, field.with_type(pa.decimal128(precision, scale)))
    return batch if schema is batch.schema else batch.cast(schema)


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


def _nullable_except_keys(table: sa.Table) -> sa.Table:
    """Raw columns accept nulls whatever the app enforces; only primary keys stay required."""
    for column in table.columns:
        if not column.primary_key:
            column.nullable = True
    return table


class DatabaseLoad(Load):
    """A PostgreSQL database of an application, read table by table (see the module docstring)."""

    kind = "postgres"
    loader_file_format = "parquet"
    """Arrow batches as they came, copied in binary through ADBC (see the module docstring)."""

    def source(self, **config: Any) -> DltSource:
        return database_source.clone(name=self.name, section=self.name)(**{**self.config, **config})

    def definitions_source(self) -> DltSource:
        return self.source(credentials=DEFINITIONS_ONLY_URL)

    def tables(self) -> dict[str, str]:
        """The configured tables and their primary keys."""
        return primary_keys(self.setting("tables"))

    def source_systems(self) -> list[SourceSystem]:
        schema = self.setting("schema")
        return [
            SourceSystem(table, f"The `{schema}.{table}` table of the {self.name} database")
            for table in self.tables()
        ]

    def reconciled_tables(self) -> list[str]:
        return list(self.tables())

    def reconcile(self, pipeline: dlt.Pipeline) -> list[Reconciliation]:
        """Rows per table in raw against the source's own count, over its own connection.

        Raw merge tables hold one row per source key, deletions included, so any difference
        means rows were missed, duplicated or kept after they left the source.
        """
        tables = self.reconciled_tables()
        schema = self.setting("schema")
        source_counts = self._source_counts(schema, tables)
        raw_counts = count_rows(pipeline, tables)
        return [
            Reconciliation(
                raw_table=f"{self.dataset}.{table}",
                source=f"{self.name}: {schema}.{table}",
                raw_rows=raw_counts[table],
                source_rows=source_counts[table],
            )
            for table in tables
        ]

    def _source_counts(self, schema: str, tables: list[str]) -> dict[str, int]:
        credentials = with_psycopg2(self.setting("credentials", secret=True))
        url = credentials.to_url().set(drivername="postgresql").render_as_string(False)
        try:
            conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg2.OperationalError as error:
            where = f"{credentials.host}:{credentials.port}/{credentials.database}"
            reason = str(error).strip().splitlines()[0]
            raise SourceDatabaseError(
                f"{self.name}: cannot connect to {where} ({reason}): "
                f"check SOURCES__{self.name.upper()}__CREDENTIALS"
            ) from None
        try:
            with conn, conn.cursor() as cursor:
                counts = {}
                for table in tables:
                    cursor.execute(
                        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
                    )
                    counts[table] = cursor.fetchone()[0]
                return counts
        finally:
            conn.close()
