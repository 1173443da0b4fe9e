"""``make run``'s job as a person runs it, on a server of its own: the quiet launch through
``dg launch``, then what it left in the Dagster instance (the daily partitions it built, the dbt
source tests as checks on the raw tables) and the profiling notebook run on the marts it built."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance
from helpers import TEST_API_TOKEN, free_port, outside_the_project, server_env, shop_url, simulator

from warehouse.paths import PROJECT_ROOT

SIMULATED_DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
"""The days the demo shop simulates from its first day, 2026-01-01: the first day of data, as
``daily_partitions_start`` (here DAILY_PARTITIONS_START, see conftest.py) says."""
STEPS = ["landing", "payments", "shop", "dbt_models", "dbt_daily_models"]
MAX_LINES = 30
WARNING = re.compile(r"\bwarning\b|\w+Warning\b", re.IGNORECASE)
LOGGED_WARNING = re.compile(r" - WARNING - |\[WARNING\]|\w+Warning: ")
"""Dagster's and dlt's warnings and Python's (SupersessionWarning, DeprecationWarning, ...);
dbt's own summary of a data test that warned is not one of them."""


@pytest.fixture(scope="module")
def make_run(module_server, tmp_path_factory, dbt_manifest):
    """The demo sources with three days of history, and ``make run``'s launch of
    ``refresh_warehouse`` into a Dagster home of its own."""
    from demo_sources.payments_api import PaymentsApiServer

    simulator(module_server).init(len(SIMULATED_DAYS), scale="tiny")
    folder = tmp_path_factory.mktemp("make-run")
    home = folder / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN) as api:
        env = {
            **os.environ,
            **server_env(module_server, api.url),
            "DAGSTER_HOME": str(home),
            **outside_the_project(folder / "cwd"),
        }
        result = subprocess.run(
            [sys.executable, "-m", "orchestration.launch", "refresh_warehouse"],
            cwd=folder / "cwd",
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return result, DagsterInstance.from_config(str(home)), env


def test_make_run_prints_a_line_per_step_and_keeps_the_full_log_in_a_file(make_run):
    result, _, _ = make_run
    lines = result.stdout.splitlines()
    log_path = Path(re.search(r"its full log: (\S+)", result.stdout)[1])
    log = log_path.read_text()

    assert len(lines) <= MAX_LINES, result.stdout
    for step in STEPS:
        assert any(re.match(rf"\s+{step}\s+ok\s", line) for line in lines), (step, result.stdout)
    assert lines[-1].startswith("refresh_warehouse succeeded in")
    assert WARNING.search(result.stdout + result.stderr) is None, result.stdout
    assert "Done. PASS=" in log, "dbt's own output is in the full log"
    assert [line for line in log.splitlines() if LOGGED_WARNING.search(line)] == []


def test_the_ui_shows_the_daily_partitions_the_run_built_as_materialised(make_run):
    from orchestration.partitions import daily_partitions

    _, instance, _ = make_run

    assert daily_partitions.get_first_partition_key() == SIMULATED_DAYS[0]
    for key in (["marts", "fct_daily_activity"], ["raw_landing", "events"]):
        materialised = instance.get_materialized_partitions(AssetKey(key))
        assert sorted(materialised) == SIMULATED_DAYS, key


def test_dbt_source_tests_ran_as_checks_on_the_raw_tables(make_run):
    _, instance, _ = make_run
    check = AssetCheckKey(AssetKey(["raw_shop", "orders"]), "source_unique_shop_orders_order_id")

    execution = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[check]

    assert execution.status.value == "SUCCEEDED"


def test_the_profiling_notebook_runs_on_the_marts_as_the_reporter(make_run, monkeypatch):
    import nbclient
    import nbformat

    _, _, env = make_run
    # The kernel starts with this process's environment: the run's server, as make passes .env.
    for variable in ("PGHOST", "PGPORT", "PGDATABASE"):
        if variable in env:
            monkeypatch.setenv(variable, env[variable])
        else:
            monkeypatch.delenv(variable, raising=False)
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "data_profiling.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}},
    )

    client.execute()

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "reading as postgresql+psycopg2://bi:***@" in text
    plots = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(plots) == 2, "revenue by channel and daily activity are drawn"
