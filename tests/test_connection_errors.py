"""Bad connection settings give one clear line naming the variable (or make target) to fix."""

import os
import subprocess
import sys

import pytest
from helpers import TEST_API_TOKEN, free_port, run_dbt, shop_url

from warehouse.paths import PROJECT_ROOT


def warehouse_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warehouse", "check"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_correct_settings_pass(warehouse):
    result = warehouse_check({})

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "fix"),
    [
        ({"PGPASSWORD": "wrong"}, "check PGUSER and PGPASSWORD"),
        ({"PGUSER": "nobody"}, "check PGUSER and PGPASSWORD"),
        ({"PGDATABASE": "no_such_db"}, "check PGDATABASE"),
        ({"PGPORT": "not-a-port"}, "PGPORT must be a port number"),
        ({"PGHOST": "no-such-host.invalid"}, "check PGHOST"),
        ({"WAREHOUSE_URL": "mysql://db/x"}, "WAREHOUSE_URL must look like"),
    ],
)
def test_bad_setting_is_one_line_naming_the_variable(warehouse, env, fix):
    result = warehouse_check(env)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert fix in result.stderr
    assert "Traceback" not in result.stderr


def test_stopped_embedded_server_says_make_db_up():
    result = warehouse_check({"PGPORT": str(free_port())})

    assert result.returncode == 1
    assert "make db-up" in result.stderr


def test_dbt_build_against_a_stopped_server_says_make_db_up(dbt_manifest):
    result = run_dbt("build", env={"PGPORT": str(free_port())})

    assert result.returncode != 0
    assert "the embedded warehouse is not running" in result.stdout
    assert "make db-up" in result.stdout


def test_dbt_parse_needs_no_database():
    result = run_dbt("parse", "--quiet", env={"PGPORT": str(free_port())})

    assert result.returncode == 0, result.stdout


def test_a_load_into_a_stopped_warehouse_is_retried(tmp_path, dbt_manifest):
    """The error a real dlt load raises when the warehouse is down counts as transient: Dagster
    retries the step."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ingestion.load import is_transient, run
    from ingestion.registry import loads_named
    from warehouse.settings import load_settings

    stopped = load_settings({"PGPORT": str(free_port())})
    (tmp_path / "landing" / "events").mkdir(parents=True)
    [landing] = loads_named(["landing"])
    landing = landing.configured(bucket_url=str(tmp_path / "landing"))
    with pytest.raises(PipelineStepFailed) as down:
        run(landing.pipeline(stopped, pipelines_dir=tmp_path / "dlt"), landing.source())

    assert is_transient(down.value)


def test_a_wrong_api_token_is_not_retried(warehouse, tmp_path, dbt_manifest):
    from dlt.pipeline.exceptions import PipelineStepFailed

    from demo_sources.payments_api import PaymentsApiServer
    from ingestion.load import is_transient, run
    from ingestion.registry import loads_named

    [payments] = loads_named(["payments"])
    with (
        PaymentsApiServer(shop_url(warehouse), port=free_port(), token=TEST_API_TOKEN) as api,
        pytest.raises(PipelineStepFailed) as refused,
    ):
        load = payments.configured(base_url=api.url, api_token="wrong")
        run(load.pipeline(warehouse.settings, pipelines_dir=tmp_path), load.source())

    assert "401" in str(refused.value)
    assert not is_transient(refused.value)
