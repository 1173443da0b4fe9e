"""How close our dlt pipeline comes to a plain COPY: the same N orders, both ways, in one run.

    .venv/bin/python bench/ingest.py                 # 1M rows
    .venv/bin/python bench/ingest.py --rows 10000000
    .venv/bin/python bench/ingest.py --routes copy,ours,ours-gzip,default

On a throwaway embedded server, N rows are generated in the shop's ``orders`` table, then moved
into the warehouse:

- ``copy``: ``COPY orders TO STDOUT`` from the shop, ``COPY ... FROM STDIN`` into a table of
  the same shape; the floor.
- ``ours``: the shop load as it runs in production (``ingestion.database``: Arrow backend,
  incremental merge on the key, CSV load files uncompressed, COPY).
- ``ours-gzip``: the same with dlt's default gzip compression of intermediate files.
- ``ours-naive-ts``: the same with the timestamps loaded as ``timestamp`` (UTC wall time)
  instead of ``timestamptz``: Arrow's CSV writer formats time-zone-aware timestamps about ten
  times slower than naive ones, and that is most of what normalize costs. Not what we ship.
- ``default``: dlt's defaults (SQLAlchemy rows as Python dicts, INSERT statements), merge.

Prints each route's wall time, dlt's extract / normalize / load split, and the ratio to COPY.
"""

from __future__ import annotations

import argparse
import io
import os
import time

import dlt
import pyarrow as pa
from dlt.destinations import postgres
from dlt.sources.sql_database import sql_table

from demo_sources.settings import ensure_database
from demo_sources.shop import SCHEMA_DDL
from ingestion.database import with_psycopg2
from ingestion.load import RUN_OPTIONS
from ingestion.registry import loads_named
from warehouse.connection import connect
from warehouse.embedded import ThrowawayServer, throwaway_server
from warehouse.settings import LOADER, WarehouseSettings

SHOP_DATABASE = "shop"

ROUTES = ("copy", "ours", "ours-gzip", "ours-naive-ts", "default")
ORDERS = """
insert into customers (customer_id, name, email, country, segment, created_at, updated_at)
select id, 'customer ' || id, 'c' || id || '@example.com', 'DE', 'consumer', now(), now()
from generate_series(1, 10000) as id;

insert into orders (order_id, customer_id, status, ordered_at, updated_at)
select id, 1 + id %% 10000, (array['placed', 'paid', 'shipped', 'completed'])[1 + id %% 4],
       timestamptz '2026-01-01' + id * interval '1 second',
       timestamptz '2026-01-01' + id * interval '1 second' + interval '1 hour'
from generate_series(1, %(rows)s) as id;
analyze orders;
"""


def execute(settings: WarehouseSettings, database: str, sql: str, params: dict | None = None):
    conn = connect(settings, database)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        conn.close()


def plain_copy(settings: WarehouseSettings) -> float:
    execute(
        settings,
        settings.database,
        """
        create schema if not exists bench_copy;
        create table bench_copy.orders (
            order_id bigint primary key, customer_id bigint, status text,
            ordered_at timestamptz, updated_at timestamptz
        );
        """,
    )
    started = time.perf_counter()
    buffer = io.BytesIO()
    source = connect(settings, SHOP_DATABASE)
    with source, source.cursor() as cursor:
        cursor.copy_expert("copy orders to stdout with (format csv)", buffer)
    source.close()
    buffer.seek(0)
    target = connect(settings, settings.database)
    with target, target.cursor() as cursor:
        cursor.copy_expert("copy bench_copy.orders from stdin with (format csv)", buffer)
    target.close()
    return time.perf_counter() - started


def dlt_route(server: ThrowawayServer, route: str) -> tuple[float, dict[str, float]]:
    name = f"bench_{route.replace('-', '_')}"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=postgres(credentials=server.as_role(LOADER).url()),
        dataset_name=name,
        pipelines_dir=str(server.paths.dlt_dir),
    )
    shop_url = server.url(SHOP_DATABASE)
    if route == "default":
        source = sql_table(
            credentials=with_psycopg2(shop_url),
            table="orders",
            primary_key="order_id",
            write_disposition="merge",
        )
        options: dict = {}
    else:
        [shop] = loads_named(["shop"])
        source = shop.configured(credentials=shop_url).source().with_resources("orders")
        options = RUN_OPTIONS
    if route == "ours-naive-ts":
        naive = {"data_type": "timestamp", "timezone": False}
        source.resources["orders"].apply_hints(columns={"ordered_at": naive, "updated_at": naive})
        source.resources["orders"].add_map(_naive_timestamps)
    os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "false" if route == "ours-gzip" else "true"
    started = time.perf_counter()
    pipeline.run(source, **options).raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
        if step.step in ("extract", "normalize", "load")
    }
    return seconds, steps


def _naive_timestamps(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            naive = table.column(index).cast(pa.timestamp(field.type.unit))
            table = table.set_column(index, field.name, naive)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--routes", default="copy,ours,ours-gzip")
    args = parser.parse_args()
    routes = args.routes.split(",")
    assert set(routes) <= set(ROUTES), f"routes are {', '.join(ROUTES)}"

    with throwaway_server() as server:
        settings = server.settings
        ensure_database(server.url(SHOP_DATABASE))
        execute(settings, SHOP_DATABASE, SCHEMA_DDL)
        execute(settings, SHOP_DATABASE, ORDERS, {"rows": args.rows})
        print(f"{args.rows:,} orders, {os.cpu_count()} cores")
        baseline = plain_copy(settings) if "copy" in routes else None
        if baseline:
            print(f"  {'copy':<10} {baseline:7.1f} s  {args.rows / baseline:>10,.0f} rows/s")
        for route in routes:
            if route == "copy":
                continue
            seconds, steps = dlt_route(server, route)
            split = "  ".join(f"{name} {value:.1f}" for name, value in steps.items())
            ratio = f"{seconds / baseline:5.2f}x copy" if baseline else ""
            print(
                f"  {route:<10} {seconds:7.1f} s  {args.rows / seconds:>10,.0f} rows/s"
                f"  {ratio}  ({split})"
            )


if __name__ == "__main__":
    dlt.config["runtime.log_level"] = "WARNING"
    main()
