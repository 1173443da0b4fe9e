"""What Dagster costs on top of the work it orchestrates: `make run`'s job against the same dlt
pipelines and `dbt build` run by hand, from the same fresh demo shop.

    .venv/bin/python bench/orchestration.py                    # 30 days, default scale, twice
    .venv/bin/python bench/orchestration.py --days 7 --scale small --repeat 1
    .venv/bin/python bench/orchestration.py --routes direct,dagster,dagster-in-process

Every run of a route gets a throwaway embedded server of its own with the same generated shop
(same seed, days and scale) and an empty warehouse, its own payments API, dlt state, dbt target
folder and Dagster home, and ``dbt parse`` already done (``make manifest``, untimed): so each
route does the same full initial load and full build.

- ``direct``: ``python -m ingestion`` (the shop, payments and landing pipelines one after the
  other in one process, with its reconciliation, as ``make load``), then ``dbt build`` in
  ``dbt_project/``.
- ``dagster``: what ``make run`` does, the CLI: ``dagster job execute -m
  orchestration.definitions -j refresh_warehouse -c orchestration/run_config/make_run.yaml``
  (default multiprocess executor: a process per step, two at a time on two cores).
- ``dagster-in-process``: the same with ``execution: {config: {in_process: {}}}``: every step in
  the CLI's own process. Not what ``make run`` does; here to see what the step processes cost.

Also times loading the definitions in a fresh interpreter (``from orchestration.definitions
import defs`` and ``defs.resolve_asset_graph()``, apart from interpreter start and exit).

Routes alternate (direct, dagster, direct, dagster, ...) and the best time of each is compared:
the first run of the benchmark reads the virtualenv's files from disk, later ones from the OS page
cache. Prints each run's time and split, the Dagster route's timeline from its event log (how long
each step process took to start, how long its body ran), and the ratio Dagster / direct against
the goal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from throwaway import free_port, throwaway_server

from demo_sources.config import DEFAULT_SEED, SCALES
from demo_sources.payments_api import PaymentsApiServer
from demo_sources.simulator import ShopSimulator
from warehouse.settings import PROJECT_ROOT, WarehouseSettings, libpq_env

ROUTES = ("direct", "dagster", "dagster-in-process")
GOAL = 1.15
"""Dagster's full refresh may take at most this many times the direct route's."""

BIN = Path(sys.executable).parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MAKE_RUN_CONFIG = PROJECT_ROOT / "orchestration" / "run_config" / "make_run.yaml"
IN_PROCESS_CONFIG = "execution:\n  config:\n    in_process: {}\n"
API_TOKEN = "bench-payments-token"
CONNECTION_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "WAREHOUSE_URL")
LOAD_DEFINITIONS = """
import time
started = time.perf_counter()
from orchestration.definitions import defs
imported = time.perf_counter()
defs.resolve_asset_graph()
print(imported - started, time.perf_counter() - imported)
"""


@dataclass
class Run:
    route: str
    seconds: float
    split: dict[str, float] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)


def route_env(settings: WarehouseSettings, scratch: Path, api_url: str) -> dict[str, str]:
    """The environment `make run` would give every command, pointed at this run's server."""
    env = {key: value for key, value in os.environ.items() if key not in CONNECTION_VARIABLES}
    env.update(libpq_env(settings))
    env.update(
        {
            "PLATFORM_DATA_DIR": str(settings.data_dir),
            "DBT_TARGET": "dev",
            "DBT_TARGET_PATH": str(scratch / "dbt-target"),
            "DBT_LOG_PATH": str(scratch / "dbt-logs"),
            "DAGSTER_HOME": str(scratch / "dagster"),
            "PAYMENTS_API_TOKEN": API_TOKEN,
            "SOURCES__PAYMENTS__API_TOKEN": API_TOKEN,
            "SOURCES__PAYMENTS__BASE_URL": api_url,
            # As the Makefile does: Dagster and dbt start each other by name.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> float:
    """Seconds ``command`` took; its output goes to ``log``, shown (the end) if it fails."""
    log.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        result = subprocess.run(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{tail}")
    return seconds


@contextmanager
def fresh_shop(days: int, scale: str, name: str) -> Iterator[tuple[dict[str, str], Path, dict]]:
    """A new server with the shop generated and the dbt project parsed: the environment for the
    route, a scratch folder, and what was generated."""
    with throwaway_server(name) as settings:
        scratch = settings.data_dir / "bench"
        scratch.mkdir()
        started = time.perf_counter()
        days_simulated = ShopSimulator(settings).init(days, scale=scale, seed=DEFAULT_SEED)
        shop = {
            "seconds": time.perf_counter() - started,
            "orders": sum(day.new_orders for day in days_simulated),
            "events": sum(day.events_delivered for day in days_simulated),
        }
        with PaymentsApiServer(settings, port=free_port(), token=API_TOKEN) as api:
            env = route_env(settings, scratch, api.url)
            dagster_home = Path(env["DAGSTER_HOME"])
            dagster_home.mkdir()
            # As make run does; the file keeps telemetry off.
            shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", dagster_home)
            timed(
                [str(BIN / "dbt"), "parse", "--quiet"],
                env,
                DBT_PROJECT_DIR,
                scratch / "logs" / "parse",
            )
            yield env, scratch, shop


def direct(env: dict[str, str], scratch: Path) -> Run:
    load = timed(
        [sys.executable, "-m", "ingestion"], env, PROJECT_ROOT, scratch / "logs" / "ingestion"
    )
    build = timed([str(BIN / "dbt"), "build"], env, DBT_PROJECT_DIR, scratch / "logs" / "dbt-build")
    return Run("direct", load + build, {"dlt load": load, "dbt build": build})


def dagster(env: dict[str, str], scratch: Path, in_process: bool) -> Run:
    command = [
        str(BIN / "dagster"),
        *("job", "execute", "-m", "orchestration.definitions", "-j", "refresh_warehouse"),
    ]
    if in_process:
        # Files listed first take precedence; both are merged.
        (scratch / "in_process.yaml").write_text(IN_PROCESS_CONFIG)
        command += ["-c", str(scratch / "in_process.yaml")]
    command += ["-c", str(MAKE_RUN_CONFIG)]
    launched = time.time()
    seconds = timed(command, env, PROJECT_ROOT, scratch / "logs" / "dagster")
    route = "dagster-in-process" if in_process else "dagster"
    return Run(route, seconds, timeline=dagster_timeline(Path(env["DAGSTER_HOME"]), launched))


def dagster_timeline(dagster_home: Path, launched: float) -> list[str]:
    """Where the run's time went, from its event log: from the CLI's start to the run's start,
    then each step's process start (multiprocess only) and body, in seconds since the launch."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.all_logs(run.run_id)
    first: dict[tuple[str | None, DagsterEventType], float] = {}
    for record in records:
        if record.dagster_event:
            first.setdefault((record.step_key, record.dagster_event.event_type), record.timestamp)
    run_start = first[(None, DagsterEventType.RUN_START)]
    run_end = (
        first.get((None, DagsterEventType.RUN_SUCCESS))
        or first[(None, DagsterEventType.RUN_FAILURE)]
    )
    lines = [f"{'CLI start to run start':<34} {run_start - launched:6.1f} s"]
    steps = sorted(
        {step for step, _ in first if step},
        key=lambda step: (
            first.get((step, DagsterEventType.STEP_WORKER_STARTING))
            or first[(step, DagsterEventType.STEP_START)]
        ),
    )
    for step in steps:
        start = first[(step, DagsterEventType.STEP_START)]
        end = first.get((step, DagsterEventType.STEP_SUCCESS)) or first.get(
            (step, DagsterEventType.STEP_FAILURE), start
        )
        spawned = first.get((step, DagsterEventType.STEP_WORKER_STARTING), start)
        lines.append(
            f"{step:<34} {spawned - launched:6.1f} s  process start {start - spawned:4.1f} s"
            f"  body {end - start:5.1f} s"
        )
    lines.append(f"{'run end':<34} {run_end - launched:6.1f} s")
    return lines


def definitions_load(env: dict[str, str], repeat: int) -> list[tuple[float, float, float]]:
    """(interpreter start and exit, import, resolve) seconds, per load in a fresh interpreter."""
    loads = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", LOAD_DEFINITIONS],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        total = time.perf_counter() - started
        imported, resolved = (float(value) for value in result.stdout.split()[-2:])
        loads.append((total - imported - resolved, imported, resolved))
    return loads


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", choices=list(SCALES), default="default")
    parser.add_argument("--routes", default="direct,dagster")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each route (best counts)")
    parser.add_argument("--loads", type=int, default=3, help="definitions loads to time")
    args = parser.parse_args()
    routes = args.routes.split(",")
    assert set(routes) <= set(ROUTES), f"routes are {', '.join(ROUTES)}"

    runs: list[Run] = []
    for round_number in range(args.repeat):
        for route in routes:
            with fresh_shop(args.days, args.scale, route) as (env, scratch, shop):
                if not runs:
                    print(
                        f"{args.days} days at {args.scale} scale: {shop['orders']:,} orders, "
                        f"{shop['events']:,} events (generated in {shop['seconds']:.1f} s), "
                        f"{os.cpu_count()} cores"
                    )
                    loads = definitions_load(env, args.loads)
                    print("definitions load (fresh interpreter, first and best):")
                    for label, load in (("first", loads[0]), ("best", min(loads, key=sum))):
                        start, imported, resolved = load
                        print(
                            f"  {label:<5} {sum(load):5.2f} s  (interpreter {start:.2f} s, "
                            f"import {imported:.2f} s, resolve_asset_graph {resolved:.2f} s)"
                        )
                if route == "direct":
                    run = direct(env, scratch)
                else:
                    run = dagster(env, scratch, in_process=route == "dagster-in-process")
            runs.append(run)
            split = "  ".join(f"{name} {value:.1f} s" for name, value in run.split.items())
            print(f"  run {round_number + 1} {run.route:<19} {run.seconds:6.1f} s  {split}")
            for line in run.timeline:
                print(f"      {line}")

    best = {
        route: min((run for run in runs if run.route == route), key=lambda run: run.seconds)
        for route in routes
    }
    print("best of each:")
    for route, run in best.items():
        split = "  ".join(f"{name} {value:.1f} s" for name, value in run.split.items())
        ratio = (
            f"{run.seconds / best['direct'].seconds:5.2f}x direct"
            if "direct" in best and route != "direct"
            else ""
        )
        print(f"  {route:<19} {run.seconds:6.1f} s  {ratio}  {split}")
    if "direct" in best and "dagster" in best:
        ratio = best["dagster"].seconds / best["direct"].seconds
        verdict = "met" if ratio <= GOAL else "missed"
        print(f"dagster / direct {ratio:.2f}x: goal <= {GOAL:.2f}x {verdict}")


if __name__ == "__main__":
    main()
