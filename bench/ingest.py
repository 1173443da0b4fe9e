"""How close our dlt pipeline comes to a plain COPY: the same N orders, both ways, in one run.

    .venv/bin/python bench/ingest.py                 # 1M rows, every route twice
    .venv/bin/python bench/ingest.py --rows 10000000
    .venv/bin/python bench/ingest.py --routes copy,copy-binary,ours,ours-csv,default

On a throwaway embedded server, N rows are generated in the shop's ``orders`` table, then moved
into the warehouse:

- ``copy``: ``COPY orders TO STDOUT`` from the shop, ``COPY ... FROM STDIN`` into a table of
  the same shape, as text (CSV): the goal's yardstick.
- ``copy-binary``: the same in Postgres's binary format: the floor.
- ``ours``: the shop load as it runs in production (``ingestion.database``: ConnectorX reads
  Arrow, Parquet load files, ADBC's binary COPY into dlt's staging table, then the merge on
  the key).
- ``ours-csv``: the route before Parquet: the same Arrow batches formatted as CSV, then COPY.
- ``ours-gzip``: the CSV route with dlt's default gzip compression of intermediate files.
- ``ours-naive-ts``: the CSV route with the timestamps loaded as ``timestamp`` (UTC wall time)
  instead of ``timestamptz``: Arrow's CSV writer formats time-zone-aware timestamps about ten
  times slower than naive ones. Not what we ship.
- ``default``: dlt's defaults (SQLAlchemy rows as Python dicts, INSERT statements), merge.

Routes alternate round by round (``--repeat``, default 2) and the best run of each counts: a
route's first run in the process pays for importing what it uses. Prints each run's wall time,
rows/s and dlt's extract / normalize / load split, then each route's best with its ratio to the
text COPY, and whether the goal (the shop load at most 1.0x the text COPY) is met.
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
from ingestion.registry import loads_named
from warehouse.connection import connect
from warehouse.embedded import ThrowawayServer, throwaway_server
from warehouse.settings import LOADER, WarehouseSettings

SHOP_DATABASE = "shop"

ROUTES = ("copy", "copy-binary", "ours", "ours-csv", "ours-gzip", "ours-naive-ts", "default")
GOAL = 1.0
"""Issue 16: the shop load at most this many times the text COPY."""
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


def plain_copy(settings: WarehouseSettings, copy_format: str = "csv") -> float:
    execute(
        settings,
        settings.database,
        """
        drop schema if exists bench_copy cascade;
        create schema bench_copy;
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
        cursor.copy_expert(f"copy orders to stdout with (format {copy_format})", buffer)
    source.close()
    buffer.seek(0)
    target = connect(settings, settings.database)
    with target, target.cursor() as cursor:
        cursor.copy_expert(f"copy bench_copy.orders from stdin with (format {copy_format})", buffer)
    target.close()
    return time.perf_counter() - started


def dlt_route(
    server: ThrowawayServer, route: str, round_number: int
) -> tuple[float, dict[str, float]]:
    """One full load of the orders by ``route`` into a dataset of its own."""
    name = f"bench_{route.replace('-', '_')}_{round_number}"
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
        # "ours" as the shop load runs; the others as it ran before Parquet and ADBC: Arrow
        # formatted as CSV, then COPY.
        options = {"loader_file_format": "parquet" if route == "ours" else "csv"}
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
    parser.add_argument("--routes", default="copy,copy-binary,ours,ours-csv")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of every route; best counts")
    args = parser.parse_args()
    routes = args.routes.split(",")
    assert set(routes) <= set(ROUTES), f"routes are {', '.join(ROUTES)}"

    with throwaway_server() as server:
        settings = server.settings
        ensure_database(server.url(SHOP_DATABASE))
        execute(settings, SHOP_DATABASE, SCHEMA_DDL)
        execute(settings, SHOP_DATABASE, ORDERS, {"rows": args.rows})
        print(f"{args.rows:,} orders, {os.cpu_count()} cores, {load_average()}")
        best: dict[str, float] = {}
        for round_number in range(1, args.repeat + 1):
            for route in routes:
                if route.startswith("copy"):
                    seconds = plain_copy(settings, "binary" if route == "copy-binary" else "csv")
                    split = ""
                else:
                    seconds, steps = dlt_route(server, route, round_number)
                    split = "(" + "  ".join(f"{name} {value:.1f}" for name, value in steps.items())
                    split += ")"
                best[route] = min(seconds, best.get(route, seconds))
                print(
                    f"  run {round_number} {route:<13} {seconds:7.1f} s"
                    f"  {args.rows / seconds:>10,.0f} rows/s  {split}"
                )
        print(f"best of {args.repeat}, {load_average()}:")
        for route, seconds in best.items():
            ratio = f"  {seconds / best['copy']:5.2f}x copy" if "copy" in best else ""
            print(f"  {route:<13} {seconds:7.1f} s  {args.rows / seconds:>10,.0f} rows/s{ratio}")
        if "copy" in best and "ours" in best:
            ratio = best["ours"] / best["copy"]
            met = "met" if ratio <= GOAL else "missed"
            print(f"goal: the shop load <= {GOAL:.2f}x the text COPY: {ratio:.2f}x, {met}")


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    dlt.config["runtime.log_level"] = "WARNING"
    main()
