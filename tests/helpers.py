"""What the tests share: queries, dbt, and the demo sources wired to a throwaway server.

Each throwaway server (``warehouse.embedded.throwaway_server``) carries the demo shop in its
``shop`` database and the landing folder in its data folder, where ``loads_for`` points the
registry's loads. The session's own server is also what the process environment names (see
``conftest.py``), so Dagster definitions built from the registry use it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demo_sources.simulator import ShopSimulator
from ingestion.load import Load, extracted_rows, run
from ingestion.registry import LOADS
from warehouse.embedded import ThrowawayServer, free_port
from warehouse.paths import PROJECT_ROOT
from warehouse.settings import LOADER, TRANSFORMER, WarehouseSettings, libpq_env

__all__ = ["free_port"]

DBT = str(Path(sys.executable).with_name("dbt"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
"""Debian's headless chromium in the browser tests: no sandbox because CI runs as root; no
background networking because CI is offline."""
TEST_API_TOKEN = "test-payments-token"
SHOP_DATABASE = "shop"
"""Where the tests put the demo shop: a database of its own on each throwaway server."""


MONEY_COLUMN = re.compile(r"(^|_)(amount|price|spend|revenue|value|total|cost)(_|$)")
"""Column names that hold money: amount, unit_price, spend, day_revenue, cart_value, ..."""
FLOAT_TYPES = {"double precision", "double", "real", "float", "float4", "float8"}


def is_float_money_column(column: str, data_type: str | None) -> bool:
    """Whether a column named for money has a binary float type, which cannot hold cents
    exactly (0.1 + 0.2 is not 0.3): money is ``numeric(p, 2)``."""
    return bool(MONEY_COLUMN.search(column.lower())) and (data_type or "").strip().lower() in (
        FLOAT_TYPES
    )


CTE_START = re.compile(r"^(\w+)\s+as\s+(?:not\s+)?(?:materialized\s+)?\(", re.MULTILINE)
IMPORT_CTE = re.compile(r"^\s*select\s+\*\s+from\s+\{\{\s*ref\(\s*['\"](\w+)['\"]\s*\)\s*\}\}")


def ctes(sql: str) -> dict[str, str]:
    """A model's CTEs, name: body, read from its SQL in our style (jaffle-shop's): each
    ``name as (`` starts a line, its body runs to the matching parenthesis."""
    found = {}
    for match in CTE_START.finditer(sql):
        depth = 1
        for index in range(match.end(), len(sql)):
            depth += {"(": 1, ")": -1}.get(sql[index], 0)
            if depth == 0:
                found[match[1]] = sql[match.end() : index]
                break
    return found


def imported_models(sql: str) -> dict[str, str]:
    """A model's import CTEs (``orders as (select * from {{ ref('stg_shop__orders') }})``):
    CTE name: the model it imports."""
    return {name: match[1] for name, body in ctes(sql).items() if (match := IMPORT_CTE.match(body))}


def shop_url(server: ThrowawayServer) -> str:
    """The demo shop's database on ``server``, as its owner (the simulator writes as it)."""
    return server.url(SHOP_DATABASE)


def shop_reader_url(server: ThrowawayServer) -> str:
    """The demo shop's database on ``server``, as the read-only user the shop load reads as."""
    return ShopSimulator(shop_url(server), landing_dir(server)).reader_url("shop_reader")


def landing_dir(server: ThrowawayServer) -> Path:
    return server.paths.data_dir / "landing"


def server_env(server: ThrowawayServer, api_url: str | None = None) -> dict[str, str]:
    """The variables that point every tool (dlt, dbt, Dagster, the demo, the command lines) at
    ``server``: its warehouse, its data folder, the demo sources on it."""
    env = {
        **libpq_env(server.as_role(TRANSFORMER)),
        "PLATFORM_DATA_DIR": str(server.paths.data_dir),
        "SOURCES__SHOP__CREDENTIALS": shop_reader_url(server),
        "SOURCES__LANDING__BUCKET_URL": str(landing_dir(server)),
    }
    if api_url:
        env["SOURCES__PAYMENTS__BASE_URL"] = api_url
    return env


def use_server(monkeypatch, server: ThrowawayServer, api_url: str | None = None) -> None:
    """Point this test's process environment at ``server`` (see :func:`server_env`)."""
    monkeypatch.delenv("PGHOST", raising=False)
    for variable, value in server_env(server, api_url).items():
        monkeypatch.setenv(variable, value)


def cli(
    module: str,
    *args: str,
    env: dict[str, str],
    unset: tuple[str, ...] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` from the project folder, with ``env`` over this process's
    environment, less the ``unset`` variables."""
    environment = {**os.environ, **env}
    for variable in unset:
        environment.pop(variable, None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def outside_the_project(folder: Path) -> dict[str, str]:
    """What a Dagster command needs to run from ``folder`` instead of the project: the Dagster
    CLI loads the ``.env`` of the folder it runs in, over the environment, and a developer's
    ``.env`` would point a test at their own warehouse. dlt finds ``.dlt/`` through
    ``DLT_PROJECT_DIR``; the project is installed, so its modules import from anywhere."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"DLT_PROJECT_DIR": str(PROJECT_ROOT)}


def simulator(server: ThrowawayServer) -> ShopSimulator:
    """The demo shop on ``server``, delivering files into its landing folder."""
    return ShopSimulator(shop_url(server), landing_dir(server))


def loads_for(server: ThrowawayServer, api_url: str | None = None) -> dict[str, Load]:
    """The registry's loads, reading the demo sources of ``server`` (and the payments API at
    ``api_url``)."""
    config: dict[str, dict[str, Any]] = {
        "shop": {"credentials": shop_reader_url(server)},
        "landing": {"bucket_url": str(landing_dir(server))},
        "payments": {"base_url": api_url, "api_token": TEST_API_TOKEN} if api_url else {},
    }
    return {load.name: load.configured(**config.get(load.name, {})) for load in LOADS}


def pipeline_for(server: ThrowawayServer, load: Load):
    """The dlt pipeline of ``load`` into ``server`` as the loader, with its state in the server's
    folder."""
    return load.pipeline(server.as_role(LOADER), pipelines_dir=server.paths.dlt_dir)


def load(server: ThrowawayServer, name: str, api_url: str | None = None, **config: Any):
    """Run one load of the registry into ``server`` as ``python -m ingestion`` does; the rows
    extracted per table."""
    configured = loads_for(server, api_url)[name]
    pipeline = pipeline_for(server, configured)
    run(pipeline, configured.source(**config), loader_file_format=configured.loader_file_format)
    configured.index_raw_tables(pipeline)
    return extracted_rows(pipeline)


def reconcile(server: ThrowawayServer, name: str, api_url: str | None = None):
    configured = loads_for(server, api_url)[name]
    return configured.reconcile(pipeline_for(server, configured))


def query(
    target: ThrowawayServer | WarehouseSettings,
    sql: str,
    database: str | None = None,
    params: tuple = (),
) -> list[tuple]:
    """The rows of one statement on ``database`` (default: the warehouse) of the server
    (none for a statement that returns no rows)."""
    from warehouse.connection import connect

    settings = target.settings if isinstance(target, ThrowawayServer) else target
    conn = connect(settings, database)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


@contextmanager
def duplicated_first_order(target: ThrowawayServer | WarehouseSettings) -> Iterator[None]:
    """raw_shop.orders holds its first order twice for the block's length, as a source loaded
    by a tool that does not keep keys unique would: the loader's unique constraint is dropped
    for that time and put back (with the twin deleted) afterwards."""
    query(target, "alter table raw_shop.orders drop constraint orders_order_id_key")
    query(
        target,
        "insert into raw_shop.orders select * from raw_shop.orders"
        " where order_id = (select min(order_id) from raw_shop.orders)",
    )
    try:
        yield
    finally:
        query(
            target,
            "delete from raw_shop.orders as o using raw_shop.orders as twin"
            " where o.order_id = twin.order_id and o.ctid > twin.ctid",
        )
        query(
            target,
            "alter table raw_shop.orders add constraint orders_order_id_key unique (order_id)",
        )


def shop_query(server: ThrowawayServer, sql: str, params: tuple = ()) -> list[tuple]:
    """:func:`query` on the demo shop's database."""
    return query(server, sql, SHOP_DATABASE, params)


def shop_columns(server: ThrowawayServer, table: str) -> list[str]:
    """The columns of one of the demo shop's tables, in their order."""
    return [
        name
        for (name,) in shop_query(
            server,
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = %s order by ordinal_position",
            (table,),
        )
    ]


def run_dbt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run dbt in the project folder as an analyst would, capturing its output."""
    return subprocess.run(
        [DBT, *args],
        cwd=PROJECT_ROOT / "dbt_project",
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def project_copy(workspace: Path, files: dict[str, str]) -> Path:
    """A copy of the dbt project in ``workspace`` with ``files`` (path: text) added or replaced;
    the real project is never touched."""
    source_root = PROJECT_ROOT / "dbt_project"
    project = workspace / "dbt_project"
    shutil.copytree(
        source_root,
        project,
        ignore=lambda directory, names: (
            [name for name in names if name in ("target", "logs", "dbt_packages")]
            if Path(directory) == source_root
            else []
        ),
    )
    for relative_path, text in files.items():
        (project / relative_path).parent.mkdir(parents=True, exist_ok=True)
        (project / relative_path).write_text(text)
    return project


def run_dbt_in_copy(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt on a :func:`project_copy`, its target and logs beside the copy."""
    workspace = project.parent
    return run_dbt(
        *args,
        *("--project-dir", str(project), "--profiles-dir", str(project)),
        *("--target-path", str(workspace / "target"), "--log-path", str(workspace / "logs")),
    )


def parse_project_copy(workspace: Path, files: dict[str, str]) -> Path:
    """``dbt parse`` of a copy of the dbt project with ``files`` (path: text) added or replaced;
    returns the copy's manifest.json. The real project is never touched."""
    result = run_dbt_in_copy(project_copy(workspace, files), "parse", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace / "target" / "manifest.json"
