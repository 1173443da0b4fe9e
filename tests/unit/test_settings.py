"""Connection settings: one story from environment variables to every tool."""

import pytest

from warehouse.settings import (
    EMBEDDED_PORT,
    ROLES,
    SettingsError,
    libpq_env,
    load_settings,
)


def test_no_variables_means_the_embedded_server_on_loopback():
    settings = load_settings({})

    assert settings.embedded
    assert (settings.host, settings.port) == ("127.0.0.1", EMBEDDED_PORT)
    assert settings.url() == f"postgresql://dbt:dbt-local@127.0.0.1:{EMBEDDED_PORT}/warehouse"


def test_pgport_alone_moves_the_embedded_server():
    settings = load_settings({"PGPORT": "6000"})

    assert settings.embedded
    assert settings.port == 6000


def test_pghost_selects_an_external_server_on_the_standard_port():
    settings = load_settings({"PGHOST": "db.example.com", "PGUSER": "etl", "PGPASSWORD": "s3cret"})

    assert not settings.embedded
    assert (settings.host, settings.port, settings.user) == ("db.example.com", 5432, "etl")


def test_warehouse_url_is_parsed_with_escaped_password():
    settings = load_settings(
        {"WAREHOUSE_URL": "postgresql://etl:p%40ss@db.internal:6543/analytics"}
    )

    assert not settings.embedded
    assert (settings.host, settings.port, settings.database) == ("db.internal", 6543, "analytics")
    assert settings.password == "p@ss"
    assert settings.url() == "postgresql://etl:p%40ss@db.internal:6543/analytics"


def test_warehouse_url_wins_over_pg_variables():
    settings = load_settings(
        {"WAREHOUSE_URL": "postgresql://etl:x@db.internal/analytics", "PGHOST": "other"}
    )

    assert settings.host == "db.internal"


def test_hidden_password_in_urls():
    settings = load_settings({"PGPASSWORD": "s3cret"})

    assert "****" in settings.url(hide_password=True)
    assert "s3cret" not in settings.url(hide_password=True)


def test_the_data_folder_is_a_path_setting_not_a_connection_setting(tmp_path):
    from warehouse.paths import platform_paths

    paths = platform_paths({"PLATFORM_DATA_DIR": str(tmp_path)})

    assert paths.postgres_dir == tmp_path / "postgres"
    assert paths.dlt_dir == tmp_path / "dlt"
    assert not hasattr(load_settings({}), "data_dir")


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PGPORT": "abc"}, "PGPORT"),
        ({"PGPORT": "70000"}, "PGPORT"),
        ({"WAREHOUSE_URL": "mysql://db/x"}, "WAREHOUSE_URL"),
        ({"WAREHOUSE_URL": "postgresql://db:port/x"}, "WAREHOUSE_URL"),
    ],
)
def test_malformed_settings_name_the_variable(environ, variable):
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ)


def test_libpq_env_leaves_pghost_out_for_the_embedded_server():
    embedded = libpq_env(load_settings({"PGPORT": "6000"}))
    external = libpq_env(load_settings({"WAREHOUSE_URL": "postgresql://u:p@db.internal/w"}))

    assert "PGHOST" not in embedded
    assert load_settings(embedded).embedded
    assert external["PGHOST"] == "db.internal"
    assert not load_settings(external).embedded


def test_each_tool_connects_as_its_own_user_on_the_embedded_server():
    users = {role: load_settings({}, role).user for role in ROLES}

    assert users == {
        "admin": "postgres",
        "transformer": "dbt",
        "loader": "dlt",
        "reporter": "bi",
        "dagster": "dagster",
    }


def test_a_roles_own_variables_name_its_user_on_any_server():
    environ = {"PGHOST": "db", "PGUSER": "alice", "LOADER_PGUSER": "etl", "LOADER_PGPASSWORD": "x"}

    loader = load_settings(environ, "loader")

    assert (loader.user, loader.password, loader.variables) == (
        "etl",
        "x",
        ("LOADER_PGUSER", "LOADER_PGPASSWORD"),
    )


def test_on_an_external_server_an_unset_role_shares_the_pg_user():
    environ = {"PGHOST": "db", "PGUSER": "alice", "PGPASSWORD": "pw"}

    assert load_settings(environ, "reporter").user == "alice"
    assert load_settings(environ, "transformer").user == "alice"


def test_the_roles_sql_for_a_dba_takes_passwords_as_psql_variables():
    from warehouse.roles import script

    text = script("warehouse", {"PGHOST": "db", "LOADER_PGUSER": "etl", "LOADER_PGPASSWORD": "x"})

    assert "password :'etl_password'" in text
    assert "'x'" not in text
    assert 'revoke all on database "warehouse" from public;' in text
    assert 'alter default privileges for role "etl" grant select on tables' in text
