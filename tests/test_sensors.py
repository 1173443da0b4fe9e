"""The landing-file sensor requests one load per new file, once."""

import gzip

import pytest
from dagster import DagsterInstance, build_sensor_context


@pytest.fixture
def landing_bucket(tmp_path, monkeypatch):
    """An empty landing bucket of the test's own, set as dlt config like a real bucket would be."""
    monkeypatch.setenv("SOURCES__LANDING__BUCKET_URL", tmp_path.as_uri())
    (tmp_path / "events").mkdir()
    (tmp_path / "marketing").mkdir()
    return tmp_path


def deliver(bucket, name: str) -> None:
    (bucket / name).write_bytes(gzip.compress(b'{"event_id": "e1"}\n'))


def landing_sensor():
    from orchestration.definitions import defs

    return defs.resolve_sensor_def("new_landing_files")


def tick(sensor, instance, cursor):
    from orchestration.resources import WarehouseResource

    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests or [], result.cursor


def test_two_new_files_request_two_loads_and_the_next_tick_none(landing_bucket, dbt_manifest):
    new_landing_files = landing_sensor()
    instance = DagsterInstance.ephemeral()
    deliver(landing_bucket, "events/2026-01-01.jsonl.gz")
    already_there, cursor = tick(new_landing_files, instance, None)

    deliver(landing_bucket, "events/2026-01-02.jsonl.gz")
    (landing_bucket / "marketing/2026-01-02.csv").write_text("date,channel\n")
    requests, cursor = tick(new_landing_files, instance, cursor)
    next_tick, _ = tick(new_landing_files, instance, cursor)

    assert [request.tags["landing/file"] for request in already_there] == [
        "events/2026-01-01.jsonl.gz"
    ]
    assert sorted(request.tags["landing/file"] for request in requests) == [
        "events/2026-01-02.jsonl.gz",
        "marketing/2026-01-02.csv",
    ]
    assert len({request.run_key for request in requests}) == 2
    assert next_tick == []


def test_a_rewritten_file_is_requested_again(landing_bucket, dbt_manifest):
    import os

    new_landing_files = landing_sensor()
    instance = DagsterInstance.ephemeral()
    deliver(landing_bucket, "events/2026-01-01.jsonl.gz")
    first, cursor = tick(new_landing_files, instance, None)
    path = landing_bucket / "events/2026-01-01.jsonl.gz"
    later = path.stat().st_mtime + 60
    os.utime(path, (later, later))

    again, _ = tick(new_landing_files, instance, cursor)

    assert len(again) == 1
    assert again[0].run_key != first[0].run_key
