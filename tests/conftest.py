"""Every test runs against a throwaway embedded PostgreSQL, never the user's dev data.

``pytest_configure`` points the whole session at temporary folders and a free port before any
project module reads the environment: the warehouse (``PG*``), the platform's data folder, and
the sources the registry's loads read (``SOURCES__*``): the demo shop in the session server's
``shop`` database, its landing folder in the session's data folder. Dagster definitions built
at import read exactly this. Shared helpers live in ``helpers.py``; this file holds fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import SHOP_DATABASE, TEST_API_TOKEN, free_port, run_dbt, shop_url

from warehouse.embedded import NO_DURABILITY, ThrowawayServer, throwaway_server
from warehouse.paths import PlatformPaths

CLEARED_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "WAREHOUSE_URL")

_session_dir = Path(tempfile.mkdtemp(prefix="elt-platform-tests-"))
_session_paths = PlatformPaths(_session_dir / "data")


def pytest_configure(config: pytest.Config) -> None:
    for variable in list(os.environ):
        if variable in CLEARED_VARIABLES or variable.startswith("SOURCES__"):
            os.environ.pop(variable)
    port = free_port()
    os.environ.update(
        {
            "PGPORT": str(port),
            "PLATFORM_DATA_DIR": str(_session_paths.data_dir),
            "DBT_TARGET": "dev",
            "DBT_TARGET_PATH": str(_session_dir / "dbt-target"),
            "DBT_LOG_PATH": str(_session_dir / "dbt-logs"),
            "DAGSTER_HOME": str(_session_dir / "dagster"),
            "DAILY_PARTITIONS_START": "2026-01-01",
            "PAYMENTS_API_TOKEN": TEST_API_TOKEN,
            "SOURCES__PAYMENTS__API_TOKEN": TEST_API_TOKEN,
            # The shop load reads as the demo's read-only user (demo_sources/shop.py).
            "SOURCES__SHOP__CREDENTIALS": (
                f"postgresql://shop_reader:shop-reader-local@127.0.0.1:{port}/{SHOP_DATABASE}"
            ),
            "SOURCES__LANDING__BUCKET_URL": str(_session_paths.data_dir / "landing"),
        }
    )
    (_session_dir / "dagster").mkdir(parents=True, exist_ok=True)
    (_session_dir / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    from warehouse.embedded import EmbeddedPostgres
    from warehouse.settings import load_settings

    EmbeddedPostgres(load_settings(), _session_paths.postgres_dir).stop()
    shutil.rmtree(_session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def warehouse() -> Iterator[ThrowawayServer]:
    """The session's server, started once, with the platform's roles: the one the environment
    names. Its settings are the superuser's (tests see everything); the tools use their roles."""
    from warehouse import roles
    from warehouse.connection import ensure_database
    from warehouse.embedded import EmbeddedPostgres
    from warehouse.settings import ADMIN, load_settings

    settings = load_settings(role=ADMIN)
    server = EmbeddedPostgres(settings, _session_paths.postgres_dir, NO_DURABILITY)
    server.start()
    ensure_database(settings)
    roles.apply(settings)
    yield ThrowawayServer(settings, _session_paths, server)


@pytest.fixture
def fresh_server(tmp_path) -> Iterator[ThrowawayServer]:
    """A server of its own, for tests that need an empty shop and warehouse."""
    with throwaway_server(tmp_path, NO_DURABILITY) as server:
        yield server


@pytest.fixture(scope="module")
def module_server(tmp_path_factory) -> Iterator[ThrowawayServer]:
    """A server (and data folder) shared by the tests of one module."""
    with throwaway_server(tmp_path_factory.mktemp("server"), NO_DURABILITY) as server:
        yield server


@pytest.fixture(scope="session")
def payments_api(warehouse) -> Iterator[str]:
    """The demo payments API over the session's shop database, on a free loopback port.

    ``SOURCES__PAYMENTS__BASE_URL`` points dlt at it, as the Makefile does for make.
    """
    from demo_sources.payments_api import PaymentsApiServer

    with PaymentsApiServer(shop_url(warehouse), port=free_port()) as server:
        os.environ["SOURCES__PAYMENTS__BASE_URL"] = server.url
        yield server.url


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """``dbt parse`` once for the session, as ``make manifest`` does; no database needed."""
    result = run_dbt("parse", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(os.environ["DBT_TARGET_PATH"]) / "manifest.json"
