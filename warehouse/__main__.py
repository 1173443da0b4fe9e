"""Command line for the warehouse: ``python -m warehouse COMMAND`` (``--help`` lists them).

The make targets ``db-up``, ``db-down``, ``db-status`` and ``psql`` call this. Errors print one
line to stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from psycopg2 import sql

from warehouse import roles
from warehouse.connection import WarehouseUnavailable, check_connection, connect, ensure_database
from warehouse.embedded import POSTGRES_BIN_PATH, EmbeddedPostgres, EmbeddedServerError
from warehouse.paths import platform_paths
from warehouse.settings import (
    ADMIN,
    REPORTER,
    SettingsError,
    WarehouseSettings,
    libpq_env,
    load_settings,
)

SUMMARY_SCHEMA_EXCLUDES = ("pg_catalog", "information_schema", "pg_toast", "test_failures")
"""Postgres's own schemas, and dbt's store_failures tables (test output, not data)."""


def up(settings: WarehouseSettings) -> None:
    """Start the embedded server and make sure the warehouse database and the roles exist (on an
    external server: check that the transformer's user can connect)."""
    if not settings.embedded:
        print(f"using the external server {settings.url(hide_password=True)}: nothing to start")
        check_connection(settings)
        return
    admin = load_settings(role=ADMIN)
    started = EmbeddedPostgres(admin, platform_paths().postgres_dir).start()
    print(f"{'started' if started else 'already running'}: {settings.url(hide_password=True)}")
    ensure_database(admin)
    roles.apply(admin)
    check_connection(settings)


def down(settings: WarehouseSettings) -> None:
    if not settings.embedded:
        print("the warehouse is an external server: nothing to stop")
        return
    stopped = EmbeddedPostgres(settings, platform_paths().postgres_dir).stop()
    print("stopped" if stopped else "not running")


def status(settings: WarehouseSettings) -> int:
    if settings.embedded:
        data_dir = platform_paths().postgres_dir
        server = EmbeddedPostgres(settings, data_dir).status()
        if not server.running:
            print(f"not running (data folder {data_dir}); start it with `make db-up`")
            return 1
        print(f"running (pid {server.pid}, data folder {data_dir})")
    else:
        check_connection(settings)
        print("external server reachable")
    print(f"for BI tools and notebooks (reads the marts): {load_settings(role=REPORTER).url()}")
    return 0


def summary(settings: WarehouseSettings) -> None:
    """Print every table the pipeline built, with exact row counts, schema by schema."""
    conn = connect(settings)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            """
            select tables.table_schema, tables.table_name, tables.table_type
            from information_schema.tables as tables
            where tables.table_schema not in %s
              and tables.table_name not like '\\_dlt\\_%%'
              -- dlt's scratch schema for merges: <dataset>_staging beside a dataset it loads
              and not exists (
                  select 1 from information_schema.tables as dlt_loads
                  where dlt_loads.table_name = '_dlt_loads'
                    and tables.table_schema = dlt_loads.table_schema || '_staging'
              )
            order by tables.table_schema, tables.table_name
            """,
            (SUMMARY_SCHEMA_EXCLUDES,),
        )
        relations = cursor.fetchall()
        rows = []
        for schema, table, kind in relations:
            cursor.execute(
                sql.SQL("select count(*) from {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
            rows.append(
                (f"{schema}.{table}", "view" if kind == "VIEW" else "table", cursor.fetchone()[0])
            )
    conn.close()
    width = max((len(name) for name, _, _ in rows), default=10)
    print(f"{'relation':<{width}}  {'kind':<5}  rows")
    for name, kind, count in rows:
        print(f"{name:<{width}}  {kind:<5}  {count}")


def psql(settings: WarehouseSettings) -> None:
    os.execv(str(POSTGRES_BIN_PATH / "psql"), ["psql", settings.url()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the embedded server and create the warehouse database")
    commands.add_parser("down", help="stop the embedded server")
    commands.add_parser("status", help="say whether the server runs and print its URL")
    commands.add_parser("url", help="print the postgresql:// URL")
    commands.add_parser("check", help="connect once; exit 1 with the setting to fix if that fails")
    commands.add_parser("env", help="print `export PG...` lines for a shell or a hand-run dbt")
    commands.add_parser("summary", help="list the warehouse's tables with row counts")
    commands.add_parser("psql", help="open psql on the warehouse")
    roles_parser = commands.add_parser(
        "roles", help="create the least-privilege roles (as ADMIN_PGUSER), or print their SQL"
    )
    roles_parser.add_argument("--sql", action="store_true", help="print the SQL for a DBA")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "up":
            up(settings)
        elif args.command == "down":
            down(settings)
        elif args.command == "status":
            return status(settings)
        elif args.command == "url":
            print(settings.url())
        elif args.command == "check":
            check_connection(settings)
        elif args.command == "env":
            for name, value in libpq_env(settings).items():
                print(f"export {name}={shlex.quote(value)}")
        elif args.command == "summary":
            summary(settings)
        elif args.command == "psql":
            psql(settings)
        elif args.command == "roles" and args.sql:
            print(roles.script(settings.database), end="")
        elif args.command == "roles":
            roles.apply(load_settings(role=ADMIN))
            print(f"roles, users and privileges in place in {settings.database}")
    except (SettingsError, WarehouseUnavailable, EmbeddedServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
