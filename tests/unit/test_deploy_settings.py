"""Where production's Dagster keeps its state, and the local topology's ports: pure functions."""

import sys
from pathlib import Path

import pytest

from deploy.storage import StorageError, _storage_names, storage_env
from deploy.topology import TopologyError, local_command, topology


def test_dagster_storage_defaults_to_a_database_of_its_own_on_the_warehouse_server():
    env = {"PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "etl", "PGPASSWORD": "s3cret"}

    assert storage_env(env) == {
        "DAGSTER_PG_HOST": "db.internal",
        "DAGSTER_PG_PORT": "6432",
        "DAGSTER_PG_USER": "etl",
        "DAGSTER_PG_PASSWORD": "s3cret",
        "DAGSTER_PG_DB": "dagster",
    }


def test_dagster_storage_defaults_to_the_embedded_warehouse():
    storage = storage_env({"PGPORT": "55452"})

    assert storage["DAGSTER_PG_HOST"] == "127.0.0.1"
    assert storage["DAGSTER_PG_PORT"] == "55452"
    assert storage["DAGSTER_PG_DB"] == "dagster"


def test_a_user_of_its_own_on_the_warehouse_server_replaces_the_warehouse_user():
    env = {"PGHOST": "db.internal", "PGUSER": "etl", "PGPASSWORD": "s3cret"}

    storage = storage_env({**env, "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "other"})

    assert storage["DAGSTER_PG_HOST"] == "db.internal"
    assert (storage["DAGSTER_PG_USER"], storage["DAGSTER_PG_PASSWORD"]) == ("dagster", "other")


def test_a_server_of_its_own_needs_its_own_credentials_never_the_warehouses():
    env = {"PGHOST": "db.internal", "PGUSER": "etl", "PGPASSWORD": "s3cret"}

    with pytest.raises(StorageError, match="set DAGSTER_PG_USER and DAGSTER_PG_PASSWORD"):
        storage_env({**env, "DAGSTER_PG_HOST": "dagster-db"})
    storage = storage_env(
        {
            **env,
            "DAGSTER_PG_HOST": "dagster-db",
            "DAGSTER_PG_USER": "dagster",
            "DAGSTER_PG_PASSWORD": "other",
        }
    )
    assert storage["DAGSTER_PG_PORT"] == "5432"
    assert "s3cret" not in storage.values()


def test_a_storage_port_that_is_not_a_number_is_one_line_naming_it():
    with pytest.raises(StorageError, match="DAGSTER_PG_PORT must be a port number, got 'x'"):
        storage_env({"DAGSTER_PG_PORT": "x"})


def test_connection_errors_name_the_storage_variables():
    message = "PostgreSQL at db:5432 rejected user 'x': check PGUSER and PGPASSWORD"

    assert _storage_names(message).endswith("check DAGSTER_PG_USER and DAGSTER_PG_PASSWORD")


def test_the_topology_keeps_its_state_in_the_data_folder_on_configurable_ports(tmp_path):
    topo = topology(
        {
            "PLATFORM_DATA_DIR": str(tmp_path),
            "DAGSTER_PORT": "3030",
            "DAGSTER_CODE_SERVER_PORT": "4030",
        }
    )

    assert topo.state_dir == tmp_path / "prod"
    assert topo.url == "http://127.0.0.1:3030"
    assert topo.service_commands()["code-server"][5:7] == ["-p", "4030"]
    assert topology({"PLATFORM_DATA_DIR": str(tmp_path)}).code_server_port == 4000
    with pytest.raises(TopologyError, match="DAGSTER_CODE_SERVER_PORT must be a port number"):
        topology({"DAGSTER_CODE_SERVER_PORT": "99999"})


def test_local_commands_run_the_programs_of_this_environment():
    bin_dir = Path(sys.executable).parent

    assert local_command(["dagster-daemon", "run"]) == [str(bin_dir / "dagster-daemon"), "run"]
    assert local_command(["python", "-m", "deploy"]) == [sys.executable, "-m", "deploy"]
