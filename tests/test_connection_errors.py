"""Bad connection settings give one clear line naming the variable (or make target) to fix."""

import os
import subprocess
import sys

import pytest
from conftest import free_port, run_dbt

from warehouse.settings import PROJECT_ROOT


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
