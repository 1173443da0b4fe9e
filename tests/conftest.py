"""Every test runs against a throwaway embedded PostgreSQL, never the user's dev data.

``pytest_configure`` points the whole session at temporary folders and a free port before any
project module reads the environment (the Dagster definitions read it at import).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.settings import PROJECT_ROOT, WarehouseSettings, load_settings

CONNECTION_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "WAREHOUSE_URL")

FAST_THROWAWAY_SERVER = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""Durability costs time and buys nothing for a server deleted at the end of the session."""

DBT = str(Path(sys.executable).with_name("dbt"))
TEST_API_TOKEN = "test-payments-token"

_session_dir = Path(tempfile.mkdtemp(prefix="elt-platform-tests-"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    for variable in CONNECTION_VARIABLES:
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "PGPORT": str(free_port()),
            "PLATFORM_DATA_DIR": str(_session_dir / "data"),
            "DBT_TARGET": "dev",
            "DBT_TARGET_PATH": str(_session_dir / "dbt-target"),
            "DBT_LOG_PATH": str(_session_dir / "dbt-logs"),
            "DAGSTER_HOME": str(_session_dir / "dagster"),
            "PAYMENTS_API_TOKEN": TEST_API_TOKEN,
            "SOURCES__PAYMENTS__API_TOKEN": TEST_API_TOKEN,
        }
    )
    (_session_dir / "dagster").mkdir(parents=True, exist_ok=True)
    (_session_dir / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    from warehouse.embedded import EmbeddedPostgres

    EmbeddedPostgres(load_settings()).stop()
    shutil.rmtree(_session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse() -> Iterator[WarehouseSettings]:
    """The session's embedded server, started once, with its warehouse database created."""
    from warehouse.connection import ensure_database
    from warehouse.embedded import EmbeddedPostgres

    settings = load_settings()
    EmbeddedPostgres(settings, server_options=FAST_THROWAWAY_SERVER).start()
    ensure_database(settings, settings.database)
    yield settings


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


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """``dbt parse`` once for the session, as ``make manifest`` does; no database needed."""
    result = run_dbt("parse", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json"


def parse_project_copy(workspace: Path, files: dict[str, str]) -> Path:
    """``dbt parse`` of a copy of the dbt project with ``files`` (path: text) added or replaced;
    returns the copy's manifest.json. The real project is never touched."""
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
        (project / relative_path).write_text(text)
    result = run_dbt(
        "parse",
        "--quiet",
        *("--project-dir", str(project), "--profiles-dir", str(project)),
        *("--target-path", str(workspace / "target"), "--log-path", str(workspace / "logs")),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace / "target" / "manifest.json"


def _own_server(data_dir: Path) -> Iterator[WarehouseSettings]:
    from warehouse.connection import ensure_database
    from warehouse.embedded import EmbeddedPostgres

    settings = load_settings({"PGPORT": str(free_port()), "PLATFORM_DATA_DIR": str(data_dir)})
    server = EmbeddedPostgres(settings, server_options=FAST_THROWAWAY_SERVER)
    server.start()
    ensure_database(settings, settings.database)
    yield settings
    server.destroy()


@pytest.fixture
def fresh_server(tmp_path) -> Iterator[WarehouseSettings]:
    """A second embedded server of its own, for tests that need an empty shop database."""
    yield from _own_server(tmp_path)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory) -> Iterator[WarehouseSettings]:
    """An embedded server (and data folder) shared by the tests of one module."""
    yield from _own_server(tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="session")
def payments_api(warehouse) -> Iterator[str]:
    """The demo payments API over the session's shop database, on a free loopback port.

    ``SOURCES__PAYMENTS__BASE_URL`` points dlt at it, as ``.dlt/config.toml`` does for make.
    """
    from demo_sources.payments_api import PaymentsApiServer

    with PaymentsApiServer(warehouse, port=free_port()) as server:
        os.environ["SOURCES__PAYMENTS__BASE_URL"] = server.url
        yield server.url


def query(
    settings: WarehouseSettings, sql: str, database: str | None = None, params: tuple = ()
) -> list[tuple]:
    """The rows of one statement on ``database`` (default: the warehouse) of ``settings``' server
    (none for a statement that returns no rows)."""
    from warehouse.connection import connect

    conn = connect(settings, database)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()
