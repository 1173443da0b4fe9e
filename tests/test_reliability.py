"""Loads that die half way, run twice at once, or lack a setting: nothing is lost or doubled, and
what went wrong is one line. Each test here reproduces a defect found by killing things."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from helpers import (
    cli,
    landing_dir,
    load,
    loads_for,
    pipeline_for,
    query,
    reconcile,
    server_env,
    simulator,
    use_server,
)

from ingestion.load import LoadBusy, exclusive_load
from warehouse.paths import PROJECT_ROOT
from warehouse.settings import LOADER


@pytest.fixture
def shop(fresh_server):
    simulator(fresh_server).init(3, scale="tiny")
    return fresh_server


def lines_and_rows(server) -> tuple[int, int, int]:
    """(lines delivered, rows in raw, distinct (file, line) pairs in raw) for the event files."""
    import gzip

    folder = landing_dir(server) / "events"
    lines = sum(len(gzip.decompress(path.read_bytes()).splitlines()) for path in folder.iterdir())
    rows, pairs = query(
        server,
        "select count(*), count(distinct (_file_name, _line_number)) from raw_landing.events",
    )[0]
    rejected = query(server, "select count(*) from raw_landing._rejected_lines")[0][0]
    return lines, rows + rejected, pairs + rejected


def forget_last_landing_load(server) -> None:
    """As if the last landing load died after its rows were committed but before dlt recorded it
    as complete: the rows stay, the load is not in _dlt_loads, and the local state is gone."""
    import shutil

    query(
        server,
        "delete from raw_landing._dlt_loads"
        " where load_id = (select max(load_id) from raw_landing._dlt_loads)",
    )
    shutil.rmtree(server.paths.dlt_dir / "landing", ignore_errors=True)


def test_files_read_again_after_a_load_died_replace_their_rows_in_dagster(
    shop, monkeypatch, dbt_manifest
):
    """Issue 12: dagster-dlt drops an unfinished load and reads its files again; appended rows
    doubled (4,920 lines became 9,840 rows). Rows are merged by file now."""
    from orchestration.definitions import defs

    use_server(monkeypatch, shop)
    landing_tables = sorted(defs.resolve_assets_def(AssetKey(["raw_landing", "events"])).keys)

    def run_landing():
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=DagsterInstance.ephemeral(), asset_selection=landing_tables
        )

    run_landing()
    forget_last_landing_load(shop)
    result = run_landing()

    lines, rows, pairs = lines_and_rows(shop)
    assert result.success
    assert rows == pairs == lines
    assert all(result.ok for result in reconcile(shop, "landing"))


def test_files_read_again_by_the_command_line_replace_their_rows(shop):
    load(shop, "landing")
    forget_last_landing_load(shop)

    load(shop, "landing")

    lines, rows, pairs = lines_and_rows(shop)
    assert rows == pairs == lines


def test_the_first_command_line_run_after_an_interrupted_load_redoes_it_and_loads_the_rest(
    shop,
):
    """Issue 12: dlt's run finished the left-over package and skipped the new data; the command
    line then crashed on the missing extract and never ran the other sources. The package is
    abandoned now, and the source read again."""
    landing = loads_for(shop)["landing"]
    pipeline = pipeline_for(shop, landing)
    pipeline.extract(landing.source(), loader_file_format="csv")
    pipeline.normalize()
    abandoned = Path(pipeline.working_dir) / "normalize" / "0badc0de"
    abandoned.mkdir(parents=True)
    (abandoned / "part").write_bytes(b"x" * 1000)

    result = cli("ingestion", "landing", "shop", env=server_env(shop))

    assert result.returncode == 0, result.stderr
    assert "landing: an earlier run left a load half done" in result.stdout
    assert "shop -> raw_shop: customers" in result.stdout
    assert "MISMATCH" not in result.stdout
    assert "an interrupted extract left" in result.stdout and not abandoned.exists()
    lines, rows, pairs = lines_and_rows(shop)
    assert rows == pairs == lines


# The command-line loader, killed the instant its first COPY into dlt's staging table committed
# and before dlt recorded that job as done: the window between the two is microseconds wide.
DIE_AFTER_FIRST_COPY = """
import os, sys
from dlt.destinations.impl.postgres import postgres
job = getattr(postgres, sys.argv[2])
copy = job.run
def copy_then_die(self):
    copy(self)
    os._exit(9)
job.run = copy_then_die
from ingestion.__main__ import main
sys.exit(main([sys.argv[1]]))
"""


@pytest.mark.parametrize(
    ("source", "copy_job"),
    [("landing", "PostgresCsvCopyJob"), ("shop", "PostgresParquetCopyJob")],
)
def test_a_load_killed_after_a_copy_committed_is_abandoned_and_read_again(shop, source, copy_job):
    """Issue 12, found by the fault suite: finishing such a load COPYed the same file into the
    staging table again (UniqueViolation on _dlt_id), and every later run failed the same way.
    The shop's Parquet files have no _dlt_id and its merge does not deduplicate: a file copied
    twice would have doubled its rows without a word."""
    killed = subprocess.run(
        [sys.executable, "-c", DIE_AFTER_FIRST_COPY, source, copy_job],
        cwd=PROJECT_ROOT,
        env={**os.environ, **server_env(shop)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr

    result = cli("ingestion", source, env=server_env(shop))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{source}: an earlier run left a load half done" in result.stdout
    assert all(result.ok for result in reconcile(shop, source))
    if source == "landing":
        lines, rows, pairs = lines_and_rows(shop)
        assert rows == pairs == lines
    else:
        for table, key in loads_for(shop)["shop"].tables().items():
            sql = f"select count(*), count(distinct {key}) from raw_shop.{table}"
            [(rows, keys)] = query(shop, sql)
            assert rows == keys, table
    assert cli("ingestion", source, env=server_env(shop)).returncode == 0


def test_a_second_load_of_the_same_source_waits_or_refuses_in_one_line(shop):
    """Issue 12: two landing loads at once duplicated files; the loser died with dlt's
    FileNotFoundError. A load now holds a lock in the warehouse while it runs."""
    landing = loads_for(shop)["landing"]
    env = server_env(shop)
    with exclusive_load(landing, shop.as_role(LOADER)):
        refused = cli("ingestion", "landing", "--no-wait", env=env)
        with (
            pytest.raises(LoadBusy, match="another landing load runs"),
            exclusive_load(landing, shop.as_role(LOADER), wait=False),
        ):
            pass
        waiting = threading.Thread(
            target=lambda: results.append(cli("ingestion", "landing", env=env)), daemon=True
        )
        results: list = []
        waiting.start()
        time.sleep(4)
        assert waiting.is_alive(), "the second load must wait while the first holds the lock"
    waiting.join(120)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "another landing load runs (dlt load landing: pid" in refused.stderr
    assert "not starting one" in refused.stderr
    [waited] = results
    assert waited.returncode == 0, waited.stderr
    assert "waiting for it to finish" in waited.stdout


def test_a_lock_held_by_another_database_user_is_named_as_such(shop):
    """With least-privilege roles, the loader cannot read another user's session in
    pg_stat_activity (a DBA's, here the superuser's): the refusal says so, in one line, instead
    of crashing on the missing details."""
    landing = loads_for(shop)["landing"]
    with exclusive_load(landing, shop.settings):
        refused = cli("ingestion", "landing", "--no-wait", env=server_env(shop))

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: another landing load runs (held by another database user): not starting one\n"
    )


@pytest.mark.parametrize(
    ("source", "setting", "hint"),
    [
        ("payments", "SOURCES__PAYMENTS__API_TOKEN", "SOURCES__PAYMENTS__API_TOKEN"),
        ("shop", "SOURCES__SHOP__CREDENTIALS", "SOURCES__SHOP__CREDENTIALS"),
        ("landing", "SOURCES__LANDING__BUCKET_URL", "does not exist"),
        ("payments", "SOURCES__PAYMENTS__BASE_URL", "cannot reach the source"),
    ],
)
def test_a_missing_or_wrong_setting_is_one_line_naming_it(shop, source, setting, hint):
    """Issue 12: a missing payments token printed a 51-line traceback; a missing landing folder
    passed as "nothing new"."""
    from helpers import free_port

    env, unset = server_env(shop), (setting,)
    wrong = {
        "SOURCES__LANDING__BUCKET_URL": str(shop.paths.data_dir / "no-such-folder"),
        "SOURCES__PAYMENTS__BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    if setting in wrong:
        env, unset = {**env, setting: wrong[setting]}, ()

    result = cli("ingestion", source, env=env, unset=unset)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert hint in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_setting_fails_a_dagster_run_with_one_line(shop, monkeypatch, dbt_manifest):
    from orchestration.definitions import defs

    use_server(monkeypatch, shop)
    monkeypatch.delenv("SOURCES__PAYMENTS__API_TOKEN")
    payments = sorted(defs.resolve_assets_def(AssetKey(["raw_payments", "payments"])).keys)

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=payments, raise_on_error=False
    )

    [failure] = [event for event in result.all_events if event.is_step_failure]
    error = failure.event_specific_data.error
    assert "SOURCES__PAYMENTS__API_TOKEN" in error.message
    assert error.message.strip().count("\n") == 0, error.message


def test_the_instance_is_prepared_with_one_slot_per_load_pool(tmp_path):
    from ingestion.registry import LOADS
    from orchestration.instance import prepare

    prepare(tmp_path)

    with DagsterInstance.from_config(str(tmp_path)) as instance:
        for load_name in (load.name for load in LOADS):
            info = instance.event_log_storage.get_concurrency_info(f"dlt_{load_name}")
            assert info.slot_count == 1, load_name
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_a_second_run_waits_for_the_pool_of_a_load_in_progress(shop, monkeypatch, tmp_path):
    """Issue 12: the README said pools stop two loads at once, but no pool limit was set."""
    from orchestration.definitions import defs
    from orchestration.instance import prepare

    use_server(monkeypatch, shop)
    prepare(tmp_path)
    landing_tables = sorted(defs.resolve_assets_def(AssetKey(["raw_landing", "events"])).keys)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert storage.claim_concurrency_slot("dlt_landing", "other-run", "load").is_claimed
        results: list = []
        second = threading.Thread(
            target=lambda: results.append(
                defs.resolve_implicit_global_asset_job_def().execute_in_process(
                    instance=instance, asset_selection=landing_tables
                )
            ),
            daemon=True,
        )
        second.start()
        time.sleep(8)
        loaded_while_held = query(shop, "select to_regclass('raw_landing.events')")[0][0]
        storage.free_concurrency_slots_for_run("other-run")
        second.join(180)

    assert loaded_while_held is None, "the second run loaded while the pool's slot was taken"
    assert results and results[0].success


RUN_WORKER = """
import os, sys, time
from dagster import DagsterInstance, job, op
from dagster._core.events import DagsterEvent, DagsterEventType

@op
def load():
    pass

@job
def refresh_warehouse():
    load()

instance = DagsterInstance.get()
run = instance.create_run_for_job(refresh_warehouse)
instance.report_dagster_event(
    DagsterEvent(DagsterEventType.RUN_START.value, run.job_name, pid=os.getpid()),
    run_id=run.run_id,
)
instance.event_log_storage.claim_concurrency_slot("dlt_landing", run.run_id, "load")
print(run.run_id, flush=True)
time.sleep(600)
"""
"""A run worker in miniature: starts a run, takes a load's pool slot, and works until killed."""


def test_runs_whose_process_was_killed_are_ended_and_free_their_slots(tmp_path):
    """Issue 12: after ten killed `make run`s, every new run was refused: killed runs stayed
    STARTED for ever and held their slots."""
    import os
    import subprocess
    import sys

    from dagster import DagsterRunStatus

    from orchestration.instance import prepare

    prepare(tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-c", RUN_WORKER],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        text=True,
    )
    run_id = worker.stdout.readline().strip()
    alive = prepare(tmp_path)
    worker.kill()
    worker.wait()

    ended = prepare(tmp_path)

    assert alive == [], "a run whose process lives is left alone"
    assert [run.run_id for run in ended] == [run_id]
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.status == DagsterRunStatus.FAILURE
        assert run.tags["dagster/will_retry"] == "false"
        info = instance.event_log_storage.get_concurrency_info("dlt_landing")
        assert not info.claimed_slots
