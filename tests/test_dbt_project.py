"""The dbt project on real demo data: builds clean, builds incrementally, keeps history, and
stops on bad data without replacing a good mart.

One embedded server for the module: the demo shop with some history, loaded with dlt and built
with ``dbt build``; then three more days, reloaded and built again, as ``make demo-advance DAYS=3``
and ``make run`` would.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    TEST_API_TOKEN,
    ctes,
    duplicated_first_order,
    free_port,
    imported_models,
    is_float_money_column,
    landing_dir,
    load,
    query,
    run_dbt,
    shop_query,
    shop_url,
    simulator,
)

from demo_sources.payments_api import PaymentsApiServer

INCREMENTAL_MODELS = (
    "staging.stg_landing__events",
    "intermediate.int_events_sessionised",
    "intermediate.int_events_rejected",
    "intermediate.int_payments_enriched",
    "intermediate.int_orders_enriched",
    "marts.fct_orders",
    "marts.fct_order_items",
    "marts.fct_daily_activity",
)


def load_everything(server, api_url: str) -> None:
    for name in ("shop", "payments", "landing"):
        load(server, name, api_url)


@pytest.fixture(scope="module")
def dbt_env(module_server) -> dict[str, str]:
    """dbt pointed at the module's server, with its own target folder beside the server's data.

    (A second ``tmp_path_factory.mktemp`` would reset pytest's temp root to mode 0700, which
    locks the server's system user out of its own data directory.)
    """
    target = module_server.paths.data_dir / "dbt-target"
    return {"PGPORT": str(module_server.settings.port), "DBT_TARGET_PATH": str(target)}


def dbt(env: dict[str, str], *args: str):
    return run_dbt(*args, env=env)


@pytest.fixture(scope="module")
def shop(module_server, dbt_env):
    """Ten days of a small shop, loaded and built; then three more days, loaded and built."""
    shop = simulator(module_server)
    shop.init(10, scale="small")
    with PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN) as api:
        load_everything(module_server, api.url)
        first_build = dbt(dbt_env, "build")
        customers_before = dict(
            query(module_server, "select customer_id, updated_at from raw_shop.customers")
        )
        days = shop.advance(3)
        load_everything(module_server, api.url)
        second_build = dbt(dbt_env, "build")
    return {
        "server": module_server,
        "first_build": first_build,
        "second_build": second_build,
        "customers_before": customers_before,
        "deleted_customers": sum(day.deleted_customers for day in days),
    }


def test_the_first_build_passes_with_zero_errors(shop):
    build = shop["first_build"]

    assert build.returncode == 0, build.stdout[-5000:]
    assert "ERROR=0" in build.stdout


def test_the_build_after_three_more_days_passes(shop):
    build = shop["second_build"]

    assert build.returncode == 0, build.stdout[-5000:]
    assert "ERROR=0" in build.stdout


def test_incremental_orders_pick_up_new_orders_and_late_status_changes(shop):
    server = shop["server"]
    differences = query(
        server,
        """
        select count(*) from (
            (select order_id, order_status, revenue, net_amount_paid from marts.fct_orders
             except
             select order_id, order_status, revenue, net_amount_paid
             from intermediate.int_orders_enriched)
            union all
            (select order_id, order_status, revenue, net_amount_paid
             from intermediate.int_orders_enriched
             except
             select order_id, order_status, revenue, net_amount_paid from marts.fct_orders)
        ) as differences
        """,
    )[0][0]
    source_statuses = dict(shop_query(server, "select order_id, status from orders"))
    mart_statuses = dict(query(server, "select order_id, order_status from marts.fct_orders"))

    assert differences == 0
    assert mart_statuses == source_statuses


def test_a_customer_changed_in_the_shop_has_two_versions_in_the_snapshot(shop):
    server, before = shop["server"], shop["customers_before"]
    changed = [
        customer_id
        for customer_id, updated_at in shop_query(
            server, "select customer_id, updated_at from customers"
        )
        if customer_id in before and updated_at > before[customer_id]
    ]
    assert changed, "the three days changed no existing customer; the test needs one"
    customer_id = changed[0]

    versions = query(
        server,
        "select customer_segment, country_code, dbt_valid_from, dbt_valid_to"
        " from snapshots.snap_shop__customers where customer_id = %s order by dbt_valid_from",
        params=(customer_id,),
    )
    current = shop_query(
        server,
        "select segment, upper(country), updated_at from customers where customer_id = %s",
        (customer_id,),
    )[0]

    assert len(versions) == 2
    (old, new) = versions
    assert old[3] == new[2] == current[2], "the old version ends when the new one starts"
    assert new[3] is None
    assert (new[0], new[1]) == current[:2]


def test_a_customer_deleted_in_the_shop_is_closed_in_the_snapshot(shop):
    server = shop["server"]
    assert shop["deleted_customers"] > 0, "the three days deleted no customer; the test needs one"

    deleted_versions = query(
        server,
        """
        select customer_id, dbt_valid_to from snapshots.snap_shop__customers
        where customer_id not in (select customer_id from raw_shop.customers)
        """,
    )

    assert deleted_versions
    assert all(valid_to is not None for _, valid_to in deleted_versions)
    assert {customer_id for customer_id, _ in deleted_versions}.isdisjoint(
        {row[0] for row in query(server, "select customer_id from marts.dim_customers")}
    )


def rows_a_full_refresh_changes(server, dbt_env, relations=INCREMENTAL_MODELS) -> dict[str, int]:
    """Rebuild ``relations`` (schema.model) with ``--full-refresh``: per relation, the rows that
    differ from what the incremental builds had left (none, if they did their job)."""
    query(server, "create schema if not exists incremental_copy")
    for relation in relations:
        copy = relation.replace(".", "__")
        query(
            server,
            f"drop table if exists incremental_copy.{copy};"
            f" create table incremental_copy.{copy} as select * from {relation}",
        )

    models = [relation.split(".")[1] for relation in relations]
    rebuild = dbt(dbt_env, "run", "--full-refresh", "--select", *models)

    assert rebuild.returncode == 0, rebuild.stdout[-5000:]
    differences = {}
    for relation in relations:
        copy = relation.replace(".", "__")
        if relation != "intermediate.int_events_rejected":  # the demo's timestamps all read
            assert query(server, f"select count(*) from {relation}")[0][0] > 0, relation
        differences[relation] = query(
            server,
            f"""
            select count(*) from (
                (select * from {relation} except all select * from incremental_copy.{copy})
                union all
                (select * from incremental_copy.{copy} except all select * from {relation})
            ) as differences
            """,
        )[0][0]
    return differences


def test_a_full_refresh_gives_the_same_rows_as_the_incremental_builds(shop, dbt_env):
    differences = rows_a_full_refresh_changes(shop["server"], dbt_env)

    assert differences == dict.fromkeys(INCREMENTAL_MODELS, 0)


def test_a_duplicate_order_id_fails_the_build_and_keeps_the_good_mart(shop, dbt_env):
    server = shop["server"]
    mart_before = query(server, "select count(*), sum(order_total) from marts.fct_orders")[0]
    with duplicated_first_order(server):
        build = dbt(dbt_env, "build")

    # The source's own key test fails first, and nothing downstream of raw_shop.orders runs.
    assert build.returncode == 1
    assert "Failure in test source_unique_shop_orders_order_id" in build.stdout
    assert "Got 1 result, configured to fail if != 0" in build.stdout
    assert "ERROR=1" in build.stdout
    assert "SKIP relation marts.fct_orders" in build.stdout
    mart_after = query(server, "select count(*), sum(order_total) from marts.fct_orders")[0]
    assert mart_after == mart_before


@pytest.fixture(scope="module")
def built_types(shop, dbt_env) -> dict[str, Any]:
    """``dbt docs generate`` on the build: the manifest, and the catalog of what was built."""
    docs = dbt(dbt_env, "docs", "generate")
    assert docs.returncode == 0, docs.stdout[-3000:]
    target = Path(dbt_env["DBT_TARGET_PATH"])
    return {
        "manifest": json.loads((target / "manifest.json").read_text()),
        "catalog": json.loads((target / "catalog.json").read_text()),
    }


def test_every_built_column_is_documented(built_types):
    """The manifest only knows the columns the YAML lists; the catalog knows what was built."""
    manifest, catalog = built_types["manifest"], built_types["catalog"]

    undocumented = [
        f"{node['original_file_path']}: column {column} of {node['name']} is not in its YAML"
        for unique_id, entry in catalog["nodes"].items()
        if (node := manifest["nodes"].get(unique_id)) and node["resource_type"] == "model"
        for column in entry["columns"]
        if not node["columns"].get(column, {}).get("description")
    ]

    assert undocumented == []


def test_no_built_column_holding_money_is_a_float(built_types):
    """Raw may keep a float (a JSON number); staging casts money to numeric, and nothing after
    it holds money as double precision or real."""
    floats = [
        f"{entry['metadata']['schema']}.{entry['metadata']['name']}.{column['name']}:"
        f" {column['type']}"
        for entry in built_types["catalog"]["nodes"].values()
        for column in entry["columns"].values()
        if is_float_money_column(column["name"], column["type"])
    ]

    assert floats == []


BARE_CAST = re.compile(r"cast\(\s*(?:(\w+)\.)?(\w+)\s+as\s+([\w\s(),]+?)\)\s+as\s+\w+", re.I)
TYPE_NAMES = {"timestamptz": "timestampwithtimezone", "int8": "bigint", "bool": "boolean"}


def same_type(cast_type: str, built_type: str) -> bool:
    normal = [re.sub(r"\s+", "", name.lower()) for name in (cast_type, built_type)]
    return TYPE_NAMES.get(normal[0], normal[0]) == TYPE_NAMES.get(normal[1], normal[1])


def test_no_model_casts_a_column_to_the_type_its_parent_built(built_types):
    """A cast of a parent's column to the type it already has is noise that hides the casts
    that matter; a mart's contract checks its types anyway."""
    manifest, catalog = built_types["manifest"], built_types["catalog"]
    redundant = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != "elt_platform":
            continue
        imports = imported_models(node["raw_code"])
        for cte, body in ctes(node["raw_code"]).items():
            sources = re.findall(r"\b(?:from|join)\s+(\w+)", body, re.I)
            for qualifier, column, cast_type in BARE_CAST.findall(body):
                parent = imports.get(qualifier or (sources[0] if len(sources) == 1 else ""))
                built = catalog["nodes"].get(f"model.elt_platform.{parent}", {}).get("columns", {})
                if column in built and same_type(cast_type, built[column]["type"]):
                    redundant.append(
                        f"{node['original_file_path']}: CTE {cte} casts {column} to {cast_type},"
                        f" the type {parent} already gives it"
                    )

    assert redundant == []


def test_a_second_current_version_in_a_snapshot_fails_its_history_tests(shop, dbt_env):
    server = shop["server"]
    query(
        server,
        "insert into snapshots.snap_shop__customers select * from snapshots.snap_shop__customers"
        " where dbt_valid_to is null and customer_id = (select min(customer_id)"
        " from snapshots.snap_shop__customers)",
    )
    try:
        tested = dbt(dbt_env, "test", "--select", "snap_shop__customers")
    finally:
        query(
            server,
            "delete from snapshots.snap_shop__customers as s"
            " using snapshots.snap_shop__customers as twin"
            " where s.dbt_scd_id = twin.dbt_scd_id and s.ctid > twin.ctid",
        )

    assert tested.returncode == 1
    for test in (
        "unique_snap_shop__customers_dbt_scd_id",
        "snap_shop__customers_one_current_version_per_customer",
        "mutually_exclusive_ranges_snap_shop__customers_",
    ):
        assert f"Failure in test {test}" in tested.stdout, tested.stdout[-3000:]


def test_every_model_has_the_same_rows_built_under_another_session_time_zone(shop, dbt_env):
    """Laptops and servers run in different time zones; a session id, a day or a window must not
    depend on it. Every intermediate model and mart is rebuilt from scratch under UTC, then
    under New York's time zone, and compared row by row."""
    server = shop["server"]
    models = query(
        server,
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('intermediate', 'marts') order by 1, 2",
    )
    assert ("intermediate", "int_events_sessionised") in models
    build = ("run", "--full-refresh", "--select", "path:models/intermediate", "path:models/marts")

    utc = dbt({**dbt_env, "PGOPTIONS": "-c TimeZone=UTC"}, *build)
    assert utc.returncode == 0, utc.stdout[-3000:]
    query(server, "drop schema if exists built_in_utc cascade; create schema built_in_utc")
    for schema, model in models:
        query(server, f"create table built_in_utc.{model} as select * from {schema}.{model}")
    new_york = dbt({**dbt_env, "PGOPTIONS": "-c TimeZone=America/New_York"}, *build)
    assert new_york.returncode == 0, new_york.stdout[-3000:]

    differing_rows = {
        f"{schema}.{model}": query(
            server,
            f"""
            select count(*) from (
                (select * from {schema}.{model} except all select * from built_in_utc.{model})
                union all
                (select * from built_in_utc.{model} except all select * from {schema}.{model})
            ) as differences
            """,
        )[0][0]
        for schema, model in models
    }
    assert {model: rows for model, rows in differing_rows.items() if rows} == {}


def test_events_delivered_days_late_give_the_rows_a_full_rebuild_gives(shop, dbt_env):
    """A file of late events: some join two of a customer's sessions on the first day (long
    past the lookback), one repeats an event already staged, one has an impossible timestamp.
    The incremental build after its load reads only that load, and must leave every events
    model and the daily mart as a full rebuild has them."""
    server = shop["server"]
    customer_id, before, session_start = query(
        server,
        """
        select customer_id, previous_occurred_at, occurred_at from (
            select
                customer_id, occurred_at, is_session_start,
                lag(occurred_at) over (partition by visitor_id order by occurred_at, event_id)
                    as previous_occurred_at
            from intermediate.int_events_sessionised
            where customer_id is not null
        ) as events
        where is_session_start and previous_occurred_at is not null
        order by occurred_at
        limit 1
        """,
    )[0]
    repeated_id = query(
        server, "select event_id from staging.stg_landing__events order by event_id limit 1"
    )[0][0]
    bridge, at = [], before + timedelta(minutes=20)
    while at < session_start:
        bridge.append((f"late-bridge-{len(bridge)}", at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        at += timedelta(minutes=20)
    lines = [
        {
            "event_id": event_id,
            "event_type": "page_view",
            "occurred_at": occurred_at,
            "session_id": "late-session",
            "user_id": customer_id,
            "properties": {"path": "/late"},
        }
        for event_id, occurred_at in [
            *bridge,
            (repeated_id, "2000-01-01T00:00:00Z"),
            ("late-impossible", "2026-02-30T10:00:00Z"),
        ]
    ]
    # Named to sort before every other file: the load, not the name, says what came first.
    late_file = landing_dir(server) / "events" / "0000-late.jsonl.gz"
    late_file.write_bytes(gzip.compress("\n".join(map(json.dumps, lines)).encode()))

    load(server, "landing")
    build = dbt(dbt_env, "build")

    assert build.returncode == 0, build.stdout[-5000:]
    assert query(
        server,
        "select is_session_start from intermediate.int_events_sessionised"
        " where customer_id = %s and occurred_at = %s",
        params=(customer_id, session_start),
    ) == [(False,)], "the late events did not join the two sessions"
    assert query(
        server,
        "select occurred_at_as_delivered <> '2000-01-01T00:00:00Z'"
        " from staging.stg_landing__events where event_id = %s",
        params=(repeated_id,),
    ) == [(True,)], "the late copy of an event replaced its first delivery"
    assert rows_a_full_refresh_changes(server, dbt_env) == dict.fromkeys(INCREMENTAL_MODELS, 0)


def test_a_load_dlt_has_not_completed_waits_for_the_next_build_and_is_read_whole(shop, dbt_env):
    """A build while the landing load still commits its files (rows in raw, the load not yet in
    dlt's ``_dlt_loads``) reads none of it; the build after dlt records the load reads all of
    it, though newer than everything built, as a full rebuild does."""
    server = shop["server"]
    load_id = f"{time.time():.6f}"
    query(
        server,
        """
        create temporary table in_flight as
            select * from raw_landing.events
            where event_id in (select event_id from intermediate.int_events_sessionised)
            order by _dlt_load_id desc, event_id limit 3;
        update in_flight set
            event_id = 'in-flight-' || event_id,
            _file_name = 'in-flight.jsonl',
            _dlt_load_id = %s;
        insert into raw_landing.events select * from in_flight;
        """,
        params=(load_id,),
    )
    in_flight = "select count(*) from {} where event_id like 'in-flight-%%'"
    in_staging = in_flight.format("staging.stg_landing__events")

    build = dbt(dbt_env, "build", "-s", "stg_landing__events+")
    assert build.returncode == 0, build.stdout[-5000:]
    assert query(server, in_staging) == [(0,)], "a build read a load dlt had not completed"

    query(
        server,
        """
        insert into raw_landing._dlt_loads (load_id, schema_name, status, inserted_at,
            schema_version_hash)
        select %s, schema_name, 0, now(), schema_version_hash
        from raw_landing._dlt_loads order by load_id desc limit 1
        """,
        params=(load_id,),
    )
    build = dbt(dbt_env, "build", "-s", "stg_landing__events+")

    assert build.returncode == 0, build.stdout[-5000:]
    assert query(server, in_staging) == [(3,)]
    assert query(server, in_flight.format("intermediate.int_events_sessionised")) == [(3,)]
    assert rows_a_full_refresh_changes(server, dbt_env) == dict.fromkeys(INCREMENTAL_MODELS, 0)
