"""The dbt steps add each table's row count to its event without keeping a core busy while dbt
builds: dagster-dbt's fetch_row_counts() polled in a loop that never slept, and on two cores
the build took twice as long."""

import time
from types import SimpleNamespace

from dagster import AssetCheckResult, AssetKey, AssetMaterialization

from orchestration.assets.transformation import with_row_counts


def slow_dbt(events, seconds_between):
    """A dbt invocation whose events arrive ``seconds_between`` apart, as a long build's do."""

    def stream():
        for event in events:
            time.sleep(seconds_between)
            yield event

    return SimpleNamespace(manifest={"nodes": {}}, stream=stream)


def test_waiting_for_dbt_costs_no_cpu():
    events = [AssetCheckResult(asset_key=AssetKey("a"), passed=True)] * 4
    cpu_before = time.process_time()

    streamed = list(with_row_counts(slow_dbt(events, 0.25), dbt=None))

    assert streamed == events
    assert time.process_time() - cpu_before < 0.3


def test_events_keep_dbt_s_order_and_views_are_not_counted():
    view = AssetMaterialization(asset_key=AssetKey("v"), metadata={"unique_id": "model.p.v"})
    check = AssetCheckResult(asset_key=AssetKey("v"), passed=True)
    invocation = slow_dbt([view, check], 0)
    invocation.manifest = {"nodes": {"model.p.v": {"config": {"materialized": "view"}}}}

    assert list(with_row_counts(invocation, dbt=None)) == [view, check]
