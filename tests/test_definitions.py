"""The Dagster definitions load and form one connected lineage graph."""

import itertools

import pytest
from dagster import AssetKey


@pytest.fixture(scope="module")
def defs(dbt_manifest):
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def asset_graph(defs):
    return defs.resolve_asset_graph()


def test_definitions_load(defs):
    assert defs.resolve_job_def("refresh_warehouse")
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
