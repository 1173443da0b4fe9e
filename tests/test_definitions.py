"""The Dagster definitions load and form one connected lineage graph."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey

from warehouse.paths import PROJECT_ROOT


@pytest.fixture(scope="module")
def defs(dbt_manifest):
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def asset_graph(defs):
    return defs.resolve_asset_graph()


def test_definitions_load(defs):
    from orchestration.executor import default_executor

    assert defs.resolve_job_def("refresh_warehouse").executor_def is default_executor
    assert defs.resolve_schedule_def("daily_refresh").cron_schedule == "0 6 * * *"


def test_every_dbt_source_is_loaded_by_a_dlt_asset(asset_graph, dbt_manifest):
    import json

    manifest = json.loads(dbt_manifest.read_text())
    for source in manifest["sources"].values():
        key = AssetKey([source["schema"], source["identifier"]])
        assert key in asset_graph.get_all_asset_keys(), f"dbt source {key} has no asset"
        node = asset_graph.get(key)
        assert node.is_materializable, f"dbt source {key} is not loaded by any dlt asset"
        assert "dlt" in node.kinds, f"{key} is materialized by something other than dlt"


def test_lineage_runs_from_the_shop_database_to_the_mart(asset_graph):
    chain = [
        AssetKey(["shop", "customers"]),
        AssetKey(["raw_shop", "customers"]),
        AssetKey(["staging", "stg_shop__customers"]),
        AssetKey(["marts", "dim_customers"]),
    ]
    for upstream, downstream in itertools.pairwise(chain):
        assert upstream in asset_graph.get(downstream).parent_keys


def test_the_daily_job_materializes_every_materializable_asset(defs, asset_graph):
    job = defs.resolve_job_def("refresh_warehouse")
    materializable = {
        key for key in asset_graph.get_all_asset_keys() if asset_graph.get(key).is_materializable
    }

    assert job.asset_layer.executable_asset_keys >= materializable


def test_every_dbt_node_and_raw_table_is_an_asset(asset_graph, dbt_manifest):
    import json

    manifest = json.loads(dbt_manifest.read_text())
    keys = asset_graph.get_all_asset_keys()
    dbt_nodes = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
    ]
    missing = [
        node["unique_id"]
        for node in dbt_nodes
        if AssetKey([node["schema"], node["alias"]]) not in keys
    ]

    assert len(dbt_nodes) > 20
    assert missing == []
    for raw in ("raw_shop/orders", "raw_payments/refunds", "raw_landing/events"):
        assert AssetKey(raw.split("/")) in keys


def test_loading_the_definitions_never_parses_the_dbt_project(dbt_manifest):
    """Only `make manifest` (or a dg command, `dg dev`) parses: a code location that parsed at
    import would start slowly and could serve a different graph than the one deployed."""
    import subprocess
    import sys

    before = dbt_manifest.stat().st_mtime_ns
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orchestration.definitions import defs; defs.resolve_asset_graph()",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert dbt_manifest.stat().st_mtime_ns == before


def test_groups_and_owners_come_from_dbt_folders_and_meta(asset_graph):
    mart = asset_graph.get(AssetKey(["marts", "fct_orders"]))
    staging = asset_graph.get(AssetKey(["staging", "stg_shop__orders"]))

    assert mart.group_name == "marts"
    assert staging.group_name == "staging"
    assert mart.owners == ["team:analytics-engineering"]
    assert staging.owners == ["team:data-engineering"]


def test_error_severity_dbt_tests_are_blocking_checks_and_warnings_are_not(defs):
    events = AssetKey(["staging", "stg_landing__events"])
    checks = {
        spec.name: spec
        for spec in defs.resolve_assets_def(events).check_specs
        if spec.asset_key == events
    }

    assert checks["unique_stg_landing__events_event_id"].blocking
    assert not checks[
        "accepted_values_stg_landing__events_event_type__page_view__product_view__add_to_cart__checkout__purchase"
    ].blocking


def test_dbt_source_tests_are_blocking_checks_on_the_raw_tables(asset_graph, dbt_manifest):
    orders = AssetKey(["raw_shop", "orders"])
    checks = {key.name for key in asset_graph.asset_check_keys if key.asset_key == orders}
    manifest = json.loads(dbt_manifest.read_text())
    source_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and "source.elt_platform.shop.orders" in node["depends_on"]["nodes"]
    }

    assert "source_unique_shop_orders_order_id" in source_tests
    assert source_tests <= checks, "every dbt test of the source is a check on the raw table"
    for name in source_tests:
        assert asset_graph.get_check_spec(AssetCheckKey(orders, name)).blocking, name


def test_every_dbt_test_is_a_check_on_one_asset(asset_graph, dbt_manifest):
    """No dbt test is left to Dagster as an observation (which it warns about in every run):
    singular tests of several models name theirs in meta."""
    manifest = json.loads(dbt_manifest.read_text())
    tests = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"}

    assert tests <= {key.name for key in asset_graph.asset_check_keys}


def test_dg_checks_and_lists_the_definitions(dbt_manifest):
    """`dg check defs` and `dg list defs` in the project (its [tool.dg] in pyproject.toml), as a
    person runs them from the activated virtualenv: every asset listed."""
    from orchestration.definitions import defs

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": sys.prefix,
    }
    dg = str(Path(sys.executable).with_name("dg"))
    check = subprocess.run(
        [dg, "check", "defs"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    listing = subprocess.run(
        [dg, "list", "defs", "--json"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )

    assert check.returncode == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr
    assert listing.returncode == 0, listing.stderr
    listed = {asset["asset_key"] for asset in json.loads(listing.stdout)["assets"]}
    assert listed == {
        key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
    }


def test_every_reconciled_raw_table_has_a_blocking_check(defs):
    from ingestion.registry import LOADS

    specs = {
        (spec.asset_key, spec.name): spec
        for checks in defs.asset_checks
        for spec in checks.check_specs
    }
    expected = [(load.dataset, table) for load in LOADS for table in load.reconciled_tables()]

    assert ("raw_landing", "events") in expected and ("raw_payments", "refunds") in expected
    for schema, table in expected:
        assert specs[(AssetKey([schema, table]), "row_count_matches_source")].blocking, table


def test_raw_tables_get_the_freshness_of_the_dbt_source_that_reads_them(asset_graph, dbt_manifest):
    from orchestration.freshness import source_freshness_policies

    policies = source_freshness_policies(dbt_manifest)
    orders = asset_graph.get(AssetKey(["raw_shop", "orders"])).freshness_policy

    assert len(policies) >= 7
    assert all(asset_graph.get(key).freshness_policy == policy for key, policy in policies.items())
    assert orders.fail_window.to_timedelta().total_seconds() == 50 * 3600
    assert orders.warn_window.to_timedelta().total_seconds() == 26 * 3600


def test_prod_takes_every_connection_field_from_the_environment(monkeypatch, dbt_manifest):
    """In prod each tool's user and password come from its own variables, through EnvVar: the
    loads as the loader, dbt as the transformer; a missing one stops the run with its name."""
    from dagster import build_resources

    from orchestration.resources import resources

    prod = resources("prod")
    for variable, value in {
        "PGHOST": "db.example.com",
        "PGPORT": "6543",
        "PGUSER": "transformer_dbt",
        "PGPASSWORD": "s3cret-dbt",
        "LOADER_PGUSER": "loader_dlt",
        "LOADER_PGPASSWORD": "s3cret-dlt",
        "PGDATABASE": "analytics",
    }.items():
        monkeypatch.setenv(variable, value)
    with build_resources({"warehouse": prod["warehouse"], "dbt": prod["dbt"]}) as built:
        loader = built.warehouse.settings()
        transformer = built.dbt.warehouse.settings()
    monkeypatch.delenv("LOADER_PGPASSWORD")

    assert (loader.host, loader.port, loader.user, loader.database) == (
        "db.example.com",
        6543,
        "loader_dlt",
        "analytics",
    )
    assert (loader.password, transformer.user, transformer.password) == (
        "s3cret-dlt",
        "transformer_dbt",
        "s3cret-dbt",
    )
    assert not loader.embedded
    assert prod["dbt"].target == "prod"
    with (
        pytest.raises(Exception, match="LOADER_PGPASSWORD"),
        build_resources({"warehouse": prod["warehouse"]}),
    ):
        pass


def test_a_new_sql_model_is_a_new_asset_with_no_python_change(tmp_path):
    from dagster_dbt import dbt_assets
    from helpers import parse_project_copy

    from orchestration.translators import WarehouseDbtTranslator

    manifest = parse_project_copy(
        tmp_path,
        {"models/marts/core/dim_new_thing.sql": "select 1 as new_thing_id\n"},
    )

    @dbt_assets(manifest=manifest, dagster_dbt_translator=WarehouseDbtTranslator())
    def models(): ...

    assert AssetKey(["marts", "dim_new_thing"]) in models.keys
    assert models.group_names_by_key[AssetKey(["marts", "dim_new_thing"])] == "marts"
