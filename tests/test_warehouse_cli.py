"""``python -m warehouse``: the commands behind make db-status and make summary."""

import os
import subprocess
import sys

from helpers import free_port

from warehouse.paths import PROJECT_ROOT


def warehouse_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "warehouse", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_of_a_running_server_prints_its_url(warehouse):
    result = warehouse_cli("status")

    assert result.returncode == 0, result.stderr
    assert "running (pid" in result.stdout
    reporter = warehouse.as_role("reporter")
    assert reporter.url() in result.stdout, "BI tools get the reporter's URL"
    assert "postgres:postgres" not in result.stdout


def test_status_of_a_stopped_server_says_make_db_up(tmp_path):
    result = warehouse_cli(
        "status", env={"PGPORT": str(free_port()), "PLATFORM_DATA_DIR": str(tmp_path)}
    )

    assert result.returncode == 1
    assert "not running" in result.stdout
    assert "make db-up" in result.stdout


def test_summary_lists_tables_with_exact_counts(warehouse):
    from warehouse.connection import connect

    conn = connect(warehouse.as_role("transformer"))
    with conn, conn.cursor() as cursor:
        # A double quote in a name breaks any hand-quoted SQL; psycopg2's Identifier copes.
        cursor.execute('create schema if not exists "Odd Schema"')
        cursor.execute('drop table if exists "Odd Schema"."Odd ""Table"""')
        cursor.execute('create table "Odd Schema"."Odd ""Table""" as select 1 as id union select 2')
    conn.close()

    result = warehouse_cli("summary")

    assert result.returncode == 0, result.stderr
    assert any(
        line.split()[-1] == "2" and 'Odd Schema.Odd "Table"' in line
        for line in result.stdout.splitlines()
    ), result.stdout
