"""Least privilege, personal data and secrets, checked on a real build: what each user may do in
each schema, that an erased customer is gone from everywhere, that two dbt targets on one server
never share a schema, and that no secret reaches a log or an artifact."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    TEST_API_TOKEN,
    free_port,
    landing_dir,
    load,
    outside_the_project,
    query,
    run_dbt,
    server_env,
    shop_query,
    shop_url,
    simulator,
)

from demo_sources.payments_api import PaymentsApiServer
from warehouse.paths import PROJECT_ROOT

SCHEMAS = [
    "raw_shop",
    "raw_shop_staging",
    "raw_payments",
    "raw_landing",
    "staging",
    "intermediate",
    "marts",
    "snapshots",
    "reference",
    "test_failures",
    "pseudonymisation",
    "public",
]
USERS = ["dlt", "dbt", "bi", "dagster"]
RAW = {"raw_shop", "raw_shop_staging", "raw_payments", "raw_landing"}
DBT_SCHEMAS = {"staging", "intermediate", "marts", "snapshots", "reference", "test_failures"}


def intended(user: str, schema: str) -> dict[str, bool]:
    """What ``user`` may do in ``schema`` (warehouse/roles.py's design)."""
    none = dict.fromkeys(("select", "insert", "create", "drop"), False)
    everything = dict.fromkeys(none, True)
    if user == "dlt":
        return everything if schema in RAW else none
    if user == "dbt":
        if schema in DBT_SCHEMAS:
            return everything
        return {**none, "select": True} if schema in RAW else none
    if user == "bi":
        return {**none, "select": schema == "marts"}
    return none


@pytest.fixture(scope="module")
def built(module_server):
    """A small shop loaded by the loader and built by the transformer, as make run does."""
    simulator(module_server).init(4, scale="tiny")
    with PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN) as api:
        for name in ("shop", "payments", "landing"):
            load(module_server, name, api.url)
        env = {"PGPORT": str(module_server.settings.port)}
        env["DBT_TARGET_PATH"] = str(module_server.paths.data_dir / "dbt-target")
        build = run_dbt("build", env=env)
        assert build.returncode == 0, build.stdout[-3000:]
        yield module_server, api.url, env


def test_each_user_may_do_exactly_what_its_role_allows(built):
    server = built[0]
    deviations = []
    for schema in SCHEMAS:
        tables = query(
            server,
            "select c.oid::regclass::text, pg_get_userbyid(c.relowner) from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'v') order by 1 limit 1",
            params=(schema,),
        )
        for user in USERS:
            found = query(
                server,
                "select has_schema_privilege(%(user)s, %(schema)s, 'USAGE'),"
                " has_schema_privilege(%(user)s, %(schema)s, 'CREATE')",
                params={"user": user, "schema": schema},
            )[0]
            actual = {"select": False, "insert": False, "create": found[1], "drop": False}
            if tables:
                table, owner = tables[0]
                actual["select"], actual["insert"], actual["drop"] = query(
                    server,
                    "select %(usage)s and has_table_privilege(%(user)s, %(table)s, 'SELECT'),"
                    " %(usage)s and has_table_privilege(%(user)s, %(table)s, 'INSERT'),"
                    " pg_has_role(%(user)s, %(owner)s, 'USAGE')",
                    params={"usage": found[0], "user": user, "table": table, "owner": owner},
                )[0]
            else:
                actual["drop"] = actual["create"]
            expected = intended(user, schema)
            if not tables:
                actual["select"], actual["insert"] = expected["select"], expected["insert"]
            deviations += [
                f"{user} {action} in {schema}: {actual[action]}, intended {expected[action]}"
                for action in expected
                if actual[action] != expected[action]
            ]
    connect = {
        user: query(
            server, "select has_database_privilege(%s, 'warehouse', 'CONNECT')", params=(user,)
        )[0][0]
        for user in [*USERS, "public"]
    }

    assert deviations == []
    assert connect == {"dlt": True, "dbt": True, "bi": True, "dagster": False, "public": False}


def test_the_tools_run_as_users_without_superpowers(built):
    server = built[0]
    powers = query(
        server,
        "select rolname, rolsuper or rolcreaterole or rolcreatedb or rolbypassrls"
        " from pg_roles where rolname = any(%s) order by 1",
        params=(USERS,),
    )
    owners = dict(
        query(
            server,
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace"
            " where nspname in ('raw_shop', 'marts', 'snapshots')",
        )
    )

    assert powers == [(user, False) for user in sorted(USERS)]
    assert owners == {"raw_shop": "dlt", "marts": "dbt", "snapshots": "dbt"}


def test_a_customer_erased_in_the_shop_is_readable_nowhere_after_the_next_refresh(built):
    server, api_url, env = built
    shop = simulator(server)
    before = dict(shop_query(server, "select customer_id, email from customers"))
    raw_before = {email for (email,) in query(server, "select email from raw_shop.customers")}
    shop.advance(3)
    after = {
        customer_id for (customer_id,) in shop_query(server, "select customer_id from customers")
    }
    erased = {
        customer_id: email for customer_id, email in before.items() if customer_id not in after
    }
    assert erased and set(erased.values()) <= raw_before, "the test needs erased, loaded customers"

    for name in ("shop", "payments", "landing"):
        load(server, name, api_url)
    build = run_dbt("build", env=env)
    assert build.returncode == 0, build.stdout[-3000:]

    emails = list(erased.values())
    hits = []
    for schema, table, column in query(
        server,
        "select table_schema, table_name, column_name from information_schema.columns"
        " where data_type in ('text', 'character varying')"
        " and table_schema not in ('pg_catalog', 'information_schema')",
    ):
        found = query(
            server,
            f'select count(*) from "{schema}"."{table}" where lower("{column}") = any(%s)',
            params=(emails,),
        )[0][0]
        if found:
            hits.append(f"{schema}.{table}.{column}: {found}")
    on_disk = [
        str(path)
        for path in server.paths.dlt_dir.rglob("*")
        if path.is_file() and any(email.encode() in path.read_bytes() for email in emails)
    ]
    snapshot_columns = {
        name
        for (name,) in query(
            server,
            "select column_name from information_schema.columns"
            " where table_schema = 'snapshots' and table_name = 'snap_shop__customers'",
        )
    }

    assert hits == []
    assert on_disk == []
    assert not snapshot_columns & {"customer_name", "email"}


def test_the_email_pseudonym_is_a_keyed_hmac_no_one_can_recompute(built):
    import hashlib
    import hmac

    server = built[0]
    email, pseudonym = query(
        server,
        "select lower(trim(customers.email)), dim.email_pseudonym from marts.dim_customers as dim"
        " join raw_shop.customers as customers using (customer_id) limit 1",
    )[0]
    inner, outer = (
        bytes(value)
        for value in query(server, "select inner_key, outer_key from pseudonymisation.hmac_key")[0]
    )
    key = bytes(byte ^ 0x36 for byte in inner)

    assert pseudonym == hmac.new(key, email.encode(), hashlib.sha256).hexdigest()
    assert bytes(byte ^ 0x5C for byte in outer) == key
    assert pseudonym != hashlib.sha256(email.encode()).hexdigest(), "an unkeyed hash is guessable"


def schemas_of(manifest: Path) -> set[str]:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        node["schema"] for node in nodes if node["resource_type"] in ("model", "seed", "snapshot")
    }


def test_dev_and_prod_on_one_server_never_write_the_same_schema(tmp_path, module_server):
    server_host = {"PGHOST": "127.0.0.1", "PGPORT": str(module_server.settings.port)}
    common = {**server_host, "PGUSER": "dbt", "PGPASSWORD": "dbt-local", "PGDATABASE": "warehouse"}

    def parse(target: str, folder: str, **env: str):
        return run_dbt(
            "parse",
            "--target",
            target,
            "--target-path",
            str(tmp_path / folder),
            env={**common, **env},
        )

    dev = parse("dev", "dev", DBT_SCHEMA="dbt_alice")
    prod = parse("prod", "prod")
    shared_dev = parse("dev", "shared-dev")
    seeded = [
        run_dbt("seed", "--target", target, env={**common, **env}).returncode
        for target, env in (("dev", {"DBT_SCHEMA": "dbt_alice"}), ("prod", {}))
    ]

    assert dev.returncode == prod.returncode == 0, dev.stdout + prod.stdout
    dev_schemas, prod_schemas = (
        schemas_of(tmp_path / "dev" / "manifest.json"),
        schemas_of(tmp_path / "prod" / "manifest.json"),
    )
    assert "marts" in prod_schemas and "dbt_alice_marts" in dev_schemas
    assert dev_schemas.isdisjoint(prod_schemas)
    assert shared_dev.returncode != 0
    assert "would write prod's schemas: set DBT_SCHEMA" in shared_dev.stdout
    assert seeded == [0, 0]
    assert query(module_server, "select count(*) from dbt_alice_reference.channel_groups") == query(
        module_server, "select count(*) from reference.channel_groups"
    )


SECRETS = {
    "LOADER_PGPASSWORD": "loader-secret-Q7xv3",
    "PGPASSWORD": "transformer-secret-K9w2m",
    "REPORTER_PGPASSWORD": "reporter-secret-Z4p8t",
    "DAGSTER_PGPASSWORD": "dagster-secret-M3n6r",
}
TOKEN = "payments-token-secret-J5d1s"
READER_PASSWORD = "shop-reader-secret-H2k7q"


def test_no_secret_reaches_a_log_or_an_artifact(tmp_path, fresh_server, dbt_manifest):
    """A full run with distinctive secrets (the users' passwords, the shop reader's, the API
    token): none of them is in the output, Dagster's storage, dbt's logs and target folder or
    dlt's working folders."""
    from warehouse import roles

    server = fresh_server
    roles.apply(server.settings, {"PGPORT": str(server.settings.port), **SECRETS})
    shop = simulator(server)
    shop.init(3, scale="tiny")
    query(server, f"alter role shop_reader password '{READER_PASSWORD}'", "shop")
    reader_url = shop.reader_url("shop_reader").replace("shop-reader-local", READER_PASSWORD)
    home, target = tmp_path / "dagster", tmp_path / "dbt-target"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with PaymentsApiServer(shop_url(server), port=free_port(), token=TOKEN) as api:
        env = {
            **os.environ,
            **server_env(server, api.url),
            **SECRETS,
            "SOURCES__SHOP__CREDENTIALS": reader_url,
            "SOURCES__PAYMENTS__API_TOKEN": TOKEN,
            "DAGSTER_HOME": str(home),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
            **outside_the_project(tmp_path / "cwd"),
        }
        parse = subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "parse"],
            cwd=PROJECT_ROOT / "dbt_project",
            env=env,
            capture_output=True,
            text=True,
        )
        assert parse.returncode == 0, parse.stdout[-2000:]
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("dg")),
                *("launch", "--job", "refresh_warehouse", "-m", "orchestration.definitions"),
                *("-c", str(PROJECT_ROOT / "orchestration" / "run_config" / "make_run.yaml")),
            ],
            cwd=tmp_path / "cwd",
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        again = subprocess.run(
            [sys.executable, "-m", "ingestion", "--progress"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert again.returncode == 0, again.stderr[-2000:]

    secrets = [*SECRETS.values(), TOKEN, READER_PASSWORD]
    texts = {
        "dagster output": run.stdout + run.stderr,
        "loader output": again.stdout + again.stderr,
    }
    hits = [where for where, text in texts.items() for secret in secrets if secret in text]
    for folder in (home, target, tmp_path / "dbt-logs", server.paths.dlt_dir, landing_dir(server)):
        for path in folder.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                hits += [f"{path}: {secret}" for secret in secrets if secret.encode() in content]

    assert "ERROR=0" in run.stdout, "the run loads and builds everything"
    assert hits == []
