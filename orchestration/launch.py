"""``python -m orchestration.launch JOB``: ``make run``'s quiet launch of a job with ``dg launch``.

The run's whole output (Dagster's events, dbt's log, dlt's progress) goes to a file in the data
folder's ``logs/``; the screen gets one line per step as it ends (its assets, the rows they hold,
its checks and its time), each failure in full, and the file's name. ``--verbose`` (``make run
VERBOSE=1``) shows the whole output as well.

"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from dagster import (
    AssetCheckEvaluation,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventLogRecord,
    RunsFilter,
)

from warehouse.paths import PROJECT_ROOT, platform_paths

RUN_CONFIG = PROJECT_ROOT / "orchestration" / "run_config" / "make_run.yaml"
CODE_LOCATION = "orchestration.definitions"
ROW_COUNT_KEYS = ("rows_loaded", "dagster/row_count")
"""Where a materialization says how many rows it holds: dlt's assets, dbt's tables."""
WATCHED = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}
TAIL_LINES = 40


@dataclass
class Step:
    """What one step did so far."""

    started: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per asset written; a daily asset's days add no rows of their own."""
    days: set[str] = field(default_factory=set)
    checks_passed: int = 0
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)


def launch_command(job: str) -> list[str]:
    """``dg launch`` of ``job`` with ``make run``'s run config, from wherever this runs."""
    return [
        *(str(Path(sys.executable).with_name("dg")), "launch", "--job", job),
        *("-m", CODE_LOCATION, "-c", str(RUN_CONFIG)),
    ]


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def step_line(step_key: str, outcome: str, step: Step, seconds: float | None) -> str:
    """One line for a step that ended: ``  shop  ok  4 assets  47,233 rows  3 checks  3 s``."""
    parts = []
    if step.rows:
        parts.append(f"{len(step.rows)} asset{'s' * (len(step.rows) != 1)}")
        parts.append(f"{sum(step.rows.values()):,} rows")
    if step.days:
        parts.append(f"{len(step.days)} days")
    checks = step.checks_passed + len(step.checks_warned) + len(step.checks_failed)
    if checks:
        extra = [
            f"{len(names)} {word}"
            for names, word in ((step.checks_warned, "warned"), (step.checks_failed, "failed"))
            if names
        ]
        parts.append(f"{checks} checks" + (f" ({', '.join(extra)})" if extra else ""))
    took = f"{seconds:.1f} s" if seconds is not None else ""
    return f"  {step_key:<22} {outcome:<8} {', '.join(parts):<52} {took:>8}"


def check_name(evaluation: AssetCheckEvaluation) -> str:
    return f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name}"


def check_detail(evaluation: AssetCheckEvaluation) -> str:
    """A check's name, then what it says about itself."""
    failing = evaluation.metadata.get("dagster_dbt/failed_row_count")
    rows = f"{failing.value} failing row{'s' * (failing.value != 1)}" if failing else ""
    details = evaluation.description or rows
    return f"{check_name(evaluation)}{': ' + details if details else ''}"


class Screen:
    """Turns a run's events into what ``make run`` prints."""

    def __init__(self, out: IO[str]):
        self.out = out
        self.steps: dict[str, Step] = defaultdict(Step)
        self.warned: list[str] = []

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def handle(self, record: EventLogRecord) -> None:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        step = self.steps[event.step_key]
        kind = event.event_type
        data = event.event_specific_data
        if kind == DagsterEventType.STEP_START:
            step.started = entry.timestamp
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = data.materialization
            if materialization.partition:
                step.days.add(materialization.partition)
            else:
                metadata = materialization.metadata
                step.rows[materialization.asset_key.to_user_string()] = next(
                    (int(metadata[key].value) for key in ROW_COUNT_KEYS if key in metadata), 0
                )
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            if data.passed:
                step.checks_passed += 1
            elif data.severity.value == "WARN":
                step.checks_warned.append(check_detail(data))
            else:
                step.checks_failed.append(check_detail(data))
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            seconds = entry.timestamp - step.started if step.started else None
            outcome = "ok" if kind == DagsterEventType.STEP_SUCCESS else "FAILED"
            self.say(step_line(event.step_key, outcome, step, seconds))
            for detail in step.checks_failed:
                self.say(f"    check failed: {detail}")
            self.warned += step.checks_warned
            if kind == DagsterEventType.STEP_FAILURE:
                self.say(_indented(_failure_text(data)))
        elif kind == DagsterEventType.STEP_SKIPPED:
            self.say(step_line(event.step_key, "skipped", step, None))
        elif kind == DagsterEventType.STEP_UP_FOR_RETRY:
            self.say(f"  {event.step_key:<22} retrying: {_first_line(data.error)}")


def _failure_text(data) -> str:
    """A step failure in full: the description a load gives (one line naming the fix), or the
    error with its causes."""
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.to_string() if data.error else "the step failed"


def _first_line(error) -> str:
    return (error.message if error else "").strip().splitlines()[0] if error else ""


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines())


def _copy_output(source: IO[str], log: IO[str], verbose: bool) -> None:
    for line in source:
        log.write(line)
        log.flush()
        if verbose:
            sys.stdout.write(line)
            sys.stdout.flush()


def find_run(instance: DagsterInstance, job: str, since: datetime) -> DagsterRun | None:
    runs = instance.get_runs(RunsFilter(job_name=job, created_after=since), limit=1)
    return runs[0] if runs else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.launch", description=__doc__)
    parser.add_argument("job", help="the job to run, e.g. refresh_warehouse")
    parser.add_argument("--verbose", action="store_true", help="show the whole output too")
    args = parser.parse_args(argv)

    logs_dir = platform_paths().logs_dir
    logs_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    log_path = logs_dir / f"{args.job}-{started:%Y%m%dT%H%M%S}.log"
    screen = Screen(sys.stdout)
    screen.say(f"Running {args.job}; its full log: {log_path}")
    environment = {**os.environ, "VIRTUAL_ENV": os.environ.get("VIRTUAL_ENV", sys.prefix)}
    instance = DagsterInstance.get()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            launch_command(args.job),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=environment,
        )
        assert process.stdout is not None
        copier = threading.Thread(target=_copy_output, args=(process.stdout, log, args.verbose))
        copier.start()
        run, cursor = None, None
        while True:
            finished = process.poll() is not None
            run = run or find_run(instance, args.job, started)
            if run is not None:
                while True:
                    batch = instance.get_records_for_run(run.run_id, cursor=cursor, of_type=WATCHED)
                    for record in batch.records:
                        screen.handle(record)
                    cursor = batch.cursor
                    if not batch.has_more:
                        break
            if finished:
                break
            time.sleep(1)
        copier.join()
    status = instance.get_run_by_id(run.run_id).status if run else None
    took = duration((datetime.now(UTC) - started).total_seconds())
    if screen.warned:
        screen.say(f"{len(screen.warned)} check(s) warned:")
        for detail in screen.warned:
            screen.say(f"    {detail}")
    if status == DagsterRunStatus.SUCCESS and process.returncode == 0:
        screen.say(f"{args.job} succeeded in {took}.")
        return 0
    if run is None:
        tail = log_path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        screen.say(_indented("\n".join(tail)))
    state = status.value.lower() if status else "did not start"
    screen.say(f"{args.job} {state} after {took}; the full log: {log_path}")
    return process.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
