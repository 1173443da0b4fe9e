"""Where production's Dagster keeps its state, and the local topology's ports: pure functions."""

import sys
from pathlib import Path

import pytest

from deploy.storage import StorageError, storage_env, storage_names
from deploy.topology import TopologyError, local_command, topology


def test_dagster_storage_is_its_own_database_as_its_own_user_on_the_warehouse_server():
    env = {"PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "dbt", "PGPASSWORD": "s3cret"}
    dagster = {"DAGSTER_PGUSER": "dagster", "DAGSTER_PGPASSWORD": "other"}

    assert storage_env({**env, **dagster}) == {
        "DAGSTER_PGHOST": "db.internal",
        "DAGSTER_PGPORT": "6432",
        "DAGSTER_PGUSER": "dagster",
        "DAGSTER_PGPASSWORD": "other",
        "DAGSTER_PGDATABASE": "dagster",
    }


def test_dagster_storage_on_the_embedded_server_is_the_dagster_login_roles_created():
    storage = storage_env({"PGPORT": "55452", "PGUSER": "dbt", "PGPASSWORD": "dbt-local"})

    assert storage == {
        "DAGSTER_PGHOST": "127.0.0.1",
        "DAGSTER_PGPORT": "55452",
        "DAGSTER_PGUSER": "dagster",
        "DAGSTER_PGPASSWORD": "dagster-local",
        "DAGSTER_PGDATABASE": "dagster",
    }


def test_a_server_of_its_own_needs_its_own_credentials_never_the_warehouses():
    env = {"PGHOST": "db.internal", "PGUSER": "dbt", "PGPASSWORD": "s3cret"}

    with pytest.raises(StorageError, match="set DAGSTER_PGUSER and DAGSTER_PGPASSWORD"):
        storage_env({**env, "DAGSTER_PGHOST": "dagster-db"})
    with pytest.raises(StorageError, match="set DAGSTER_PGUSER and DAGSTER_PGPASSWORD"):
        storage_env({"DAGSTER_PGHOST": "dagster-db"})
    storage = storage_env(
        {
            **env,
            "DAGSTER_PGHOST": "dagster-db",
            "DAGSTER_PGUSER": "dagster",
            "DAGSTER_PGPASSWORD": "other",
            "DAGSTER_PGDATABASE": "runs",
        }
    )
    assert (storage["DAGSTER_PGHOST"], storage["DAGSTER_PGPORT"]) == ("dagster-db", "5432")
    assert storage["DAGSTER_PGDATABASE"] == "runs"
    assert "s3cret" not in storage.values()


def test_a_storage_port_that_is_not_a_number_is_one_line_naming_it():
    with pytest.raises(StorageError, match="DAGSTER_PGPORT must be a port number, got 'x'"):
        storage_env({"DAGSTER_PGPORT": "x"})


def test_connection_errors_name_the_storage_variables():
    refused = "PostgreSQL at db:5432 rejected user 'x' and its password: check DAGSTER_PGUSER"
    unreachable = "cannot connect to PostgreSQL at db:5432 (timeout): check PGHOST and PGPORT"
    no_database = "PostgreSQL at db:5432 has no database 'dagster': check PGDATABASE"

    assert storage_names(refused, own_server=True) == refused
    assert storage_names(unreachable, own_server=True).endswith(
        "check DAGSTER_PGHOST and DAGSTER_PGPORT"
    )
    assert storage_names(unreachable, own_server=False) == unreachable
    assert storage_names(no_database, own_server=False).endswith("check DAGSTER_PGDATABASE")


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
