"""``python -m orchestration.instance``: prepare the local Dagster instance before a run.

``make run`` and ``make dev`` call it. It copies ``orchestration/dagster.yaml`` into
``DAGSTER_HOME``, sets each load's pool (``dlt_<name>``) to one run at a time (a named limit the
UI shows; ``dagster.yaml``'s ``default_limit`` covers pools nobody named), and ends the runs a
killed process left behind.

A run whose process was killed (Ctrl-C twice, ``kill -9``, a closed laptop) stays STARTED in the
run history for ever: the default run launcher cannot check its run workers. Such runs would
hold their pool slots and count against ``max_concurrent_runs`` until Dagster refused every new
run. Every Dagster event records the process that wrote it, so a run still in progress whose
process is gone is marked failed here (and not retried: the run about to start does its work),
and its slots are freed. This is for an instance whose runs all ran on this machine: the local one,
and the local production topology (``python -m deploy up``), whose code server starts every run
as a process of its own. Where runs run elsewhere (containers, Kubernetes pods), a pid says
nothing: the production start-up (``python -m deploy prepare``) only limits the pools there, and
run monitoring and the run launcher's health checks end lost runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from ingestion.registry import LOADS
from warehouse.paths import PROJECT_ROOT

INSTANCE_SETTINGS = PROJECT_ROOT / "orchestration" / "dagster.yaml"
IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
WILL_RETRY_TAG = "dagster/will_retry"
"""The tag Dagster's retry daemon reads to decide whether a failed run is started again."""


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int | None


def dead_runs(instance: DagsterInstance) -> list[DeadRun]:
    """Runs in progress whose process no longer runs on this machine."""
    dead = []
    for run in instance.get_runs(RunsFilter(statuses=IN_PROGRESS)):
        records = instance.all_logs(run.run_id)
        events = [record for record in records if record.dagster_event is not None]
        started = [
            record
            for record in events
            if record.dagster_event.event_type == DagsterEventType.RUN_START
        ]
        latest = (started or events or [None])[-1]
        pid = latest.dagster_event.pid if latest is not None else None
        if not process_alive(pid, since=latest.timestamp if latest is not None else None):
            dead.append(DeadRun(run.run_id, run.job_name, pid))
    return dead


def process_alive(pid: int | None, since: float | None) -> bool:
    """Whether ``pid`` still runs and is the process that started before ``since`` (a pid the
    system gave to another program since then does not count)."""
    if pid is None or since is None:
        return False
    try:
        process = psutil.Process(pid)
        return process.is_running() and process.create_time() <= since + 1
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def end_dead_runs(instance: DagsterInstance) -> list[DeadRun]:
    """Mark every dead run failed, not to be retried, and free its pool slots."""
    dead = dead_runs(instance)
    for run in dead:
        instance.add_run_tags(run.run_id, {WILL_RETRY_TAG: "false"})
        process = f"its process {run.pid}" if run.pid else "its process"
        instance.report_run_failed(
            instance.get_run_by_id(run.run_id),
            message=f"{process} is gone (killed or crashed); marked failed before the next run",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return dead


def limit_load_pools(instance: DagsterInstance) -> None:
    """One run at a time in each load's pool."""
    for load in LOADS:
        instance.event_log_storage.set_concurrency_slots(f"dlt_{load.name}", 1)


def prepare(
    dagster_home: Path, settings: Path | None = INSTANCE_SETTINGS, *, end_dead: bool = True
) -> list[DeadRun]:
    """Settings in place, pools limited, dead runs ended; the runs ended.

    ``settings`` is copied into ``dagster_home`` (None keeps the ``dagster.yaml`` already there,
    as in a container image or a Kubernetes config map). ``end_dead`` only where every run of the
    instance ran on this machine (see :func:`dead_runs`).
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        shutil.copyfile(settings, dagster_home / "dagster.yaml")
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        limit_load_pools(instance)
        return end_dead_runs(instance) if end_dead else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.instance", description=__doc__)
    parser.parse_args(argv)
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        print("error: DAGSTER_HOME is not set (make sets it to data/dagster)", file=sys.stderr)
        return 1
    for run in prepare(Path(home)):
        print(f"run {run.run_id} of {run.job_name}: its process is gone; marked failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
