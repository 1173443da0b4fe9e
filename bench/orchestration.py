"""What Dagster costs on top of the work it orchestrates: `make run`'s job against the same dlt
pipelines and `dbt build` run by hand, from the same fresh demo shop.

    .venv/bin/python bench/orchestration.py                    # 30 days, default scale, twice
    .venv/bin/python bench/orchestration.py --days 7 --scale small --repeat 1
    .venv/bin/python bench/orchestration.py --routes direct,dagster,dagster-ui,dagster-forkserver

Every run of a route gets a throwaway embedded server of its own with the same generated shop
(same seed, days and scale) and an empty warehouse, its own payments API, dlt state, dbt target
folder and Dagster home, and the dbt project already parsed as ``dg`` does it (untimed, as after
an earlier ``make run``): so every run is the same full initial load and full build.

- ``direct``: ``python -m ingestion`` (the shop, payments and landing pipelines one after the
  other in one process, then its reconciliation, as ``make load``), then ``dbt build`` in
  ``dbt_project/``.
- ``dagster``: what ``make run`` does, through the CLI: ``dg launch --job refresh_warehouse -m
  orchestration.definitions -c orchestration/run_config/make_run.yaml``, with the code
  location's default executor (``orchestration/executor.py``): a process per step, two at a
  time on two cores, forked from the run's own process.
- ``dagster-ui``: the same with no run config, as runs launched from the UI, a schedule or a
  sensor start (every log event at DEBUG level on the console too).
- ``dagster-in-process``: every step in the CLI's process, one after the other (``make run``'s
  executor before).
- ``dagster-forkserver``: ``multiprocess`` with ``forkserver``: step processes forked from a
  server that imports the code location once per run (the default before).
- ``dagster-spawn``: Dagster's own default, ``multiprocess`` with ``spawn``: every step process
  is a fresh Python that imports the code location again.

Also times loading the definitions in a fresh interpreter: ``from orchestration.definitions
import defs`` and ``defs.resolve_asset_graph()``, apart from interpreter start and exit.

Routes alternate (direct, dagster, direct, dagster, ...) and the best run of each is compared:
the benchmark's first commands read the virtualenv from disk, later ones from the OS page cache.
Prints each run's time and split, what it did, the Dagster runs' timelines from their event
logs (each step's process start, body, and the dbt command within it), the load average before
and after (other work on the machine makes the times noisy), and the ratio Dagster / direct
against the goal.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from demo_sources.config import DEFAULT_SEED, SCALES
from demo_sources.payments_api import PaymentsApiServer
from demo_sources.simulator import ShopSimulator
from warehouse.embedded import ThrowawayServer, free_port, throwaway_server
from warehouse.paths import PROJECT_ROOT
from warehouse.settings import TRANSFORMER, libpq_env

EXECUTION_VARIANTS = {
    "dagster": None,
    "dagster-ui": "",
    "dagster-in-process": "execution:\n  config:\n    in_process: {}\n",
    "dagster-forkserver": (
        "execution:\n  config:\n    multiprocess:\n      start_method:\n        forkserver:\n"
        "          preload_modules: [orchestration.definitions]\n"
    ),
    "dagster-spawn": (
        "execution:\n  config:\n    multiprocess:\n      start_method:\n        spawn: {}\n"
    ),
}
"""The run config of each Dagster route: None for make_run.yaml as it is, empty for none at all
(as the UI launches), else make_run.yaml with this executor."""
ROUTES = ("direct", *EXECUTION_VARIANTS)
GOALS = {"dagster": 1.15, "dagster-ui": 1.3}
"""Each Dagster route's full refresh may take at most this many times the direct route's."""
DEFINITIONS_GOAL = 2.0
"""Seconds to load the definitions in a fresh interpreter, at most."""

BIN = Path(sys.executable).parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
MAKE_RUN_CONFIG = PROJECT_ROOT / "orchestration" / "run_config" / "make_run.yaml"
API_TOKEN = "bench-payments-token"
SHOP_DATABASE = "shop"
CONNECTION_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "WAREHOUSE_URL")
PREPARE = """
from orchestration.project import VirtualenvDbtPreparer, dbt_project
VirtualenvDbtPreparer().prepare(dbt_project)
"""
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
    split: dict[str, float]
    work: str
    timeline: list[str] = field(default_factory=list)

    def summary(self) -> str:
        split = "  ".join(f"{name} {value:.1f} s" for name, value in self.split.items())
        return f"{self.route:<19} {self.seconds:6.1f} s  ({split})"


def route_env(server: ThrowawayServer, scratch: Path, api_url: str) -> dict[str, str]:
    """The environment `make run` gives every command, pointed at this run's server."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CONNECTION_VARIABLES and not key.startswith("SOURCES__")
    }
    env.update(libpq_env(server.as_role(TRANSFORMER)))
    env.update(
        {
            "PLATFORM_DATA_DIR": str(server.paths.data_dir),
            "SOURCES__SHOP__CREDENTIALS": server.url(SHOP_DATABASE),
            "SOURCES__LANDING__BUCKET_URL": str(server.paths.data_dir / "landing"),
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
def fresh_shop(days: int, scale: str) -> Iterator[tuple[dict[str, str], Path, dict]]:
    """A new server with the shop generated, its payments API and the dbt project parsed: the
    environment for a route, a scratch folder, and what was generated."""
    with throwaway_server() as server:
        scratch = server.paths.data_dir / "bench"
        scratch.mkdir()
        started = time.perf_counter()
        simulator = ShopSimulator(server.url(SHOP_DATABASE), server.paths.data_dir / "landing")
        days_simulated = simulator.init(days, scale=scale, seed=DEFAULT_SEED)
        shop = {
            "seconds": time.perf_counter() - started,
            "orders": sum(day.new_orders for day in days_simulated),
            "events": sum(day.events_delivered for day in days_simulated),
        }
        with PaymentsApiServer(simulator.shop_url, port=free_port(), token=API_TOKEN) as api:
            env = route_env(server, scratch, api.url)
            dagster_home = Path(env["DAGSTER_HOME"])
            dagster_home.mkdir()
            # As make run does; the file keeps telemetry off.
            shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", dagster_home)
            # The manifest as make run leaves it: parsed by dg's preparer, which the next dg
            # command finds up to date.
            timed([sys.executable, "-c", PREPARE], env, PROJECT_ROOT, scratch / "logs" / "parse")
            yield env, scratch, shop


def direct(env: dict[str, str], scratch: Path) -> Run:
    logs = scratch / "logs"
    load = timed([sys.executable, "-m", "ingestion"], env, PROJECT_ROOT, logs / "ingestion")
    build = timed([str(BIN / "dbt"), "build"], env, DBT_PROJECT_DIR, logs / "dbt-build")
    done = re.findall(r"Done\. (PASS=.*)", (logs / "dbt-build").read_text())
    work = f"dbt build {done[-1].strip() if done else '?'}"
    return Run("direct", load + build, {"dlt load": load, "dbt build": build}, work)


def dagster(env: dict[str, str], scratch: Path, route: str) -> Run:
    command = [
        str(BIN / "dg"),
        *("launch", "--job", "refresh_warehouse", "-m", "orchestration.definitions"),
    ]
    variant = EXECUTION_VARIANTS[route]
    if variant is None:
        command += ["-c", str(MAKE_RUN_CONFIG)]
    elif variant:
        config = scratch / "run_config.yaml"
        config.write_text(MAKE_RUN_CONFIG.read_text() + variant)
        command += ["-c", str(config)]
    launched = time.time()
    seconds = timed(command, env, PROJECT_ROOT, scratch / "logs" / "dagster")
    return dagster_run(route, seconds, Path(env["DAGSTER_HOME"]), launched)


def dagster_run(route: str, seconds: float, dagster_home: Path, launched: float) -> Run:
    """The run read back from its event log: the CLI's start (interpreter, definitions, run
    storage) before the run starts, the run, the CLI's exit after it; and each step's process
    start (multiprocess only), body, and the dbt command within it, in seconds since launch."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.all_logs(run.run_id)
    first: dict[tuple[str | None, object], float] = {}
    events: Counter[str] = Counter()
    for record in records:
        if record.dagster_event:
            event_type = record.dagster_event.event_type
            events[event_type.value] += 1
        elif record.user_message.startswith(("Running dbt command", "Finished dbt command")):
            event_type = record.user_message.split()[0]
        else:
            continue
        first.setdefault((record.step_key, event_type), record.timestamp)
    run_start = first[(None, DagsterEventType.RUN_START)]
    run_end = first.get((None, DagsterEventType.RUN_SUCCESS)) or first.get(
        (None, DagsterEventType.RUN_FAILURE), run_start
    )

    def step_spawned(step: str) -> float:
        start = first[(step, DagsterEventType.STEP_START)]
        return first.get((step, DagsterEventType.STEP_WORKER_STARTING), start)

    timeline = []
    for step in sorted({step for step, _ in first if step}, key=step_spawned):
        start = first[(step, DagsterEventType.STEP_START)]
        end = first.get((step, DagsterEventType.STEP_SUCCESS)) or first.get(
            (step, DagsterEventType.STEP_FAILURE), start
        )
        line = (
            f"{step:<22} at {step_spawned(step) - launched:5.1f} s  "
            f"process start {start - step_spawned(step):4.1f} s  body {end - start:5.1f} s"
        )
        if (step, "Running") in first and (step, "Finished") in first:
            running = first[(step, "Running")]
            dbt = first[(step, "Finished")] - running
            line += f" (dbt command {dbt:4.1f} s, before it {running - start:.1f} s)"
        timeline.append(line)
    split = {
        "CLI start": run_start - launched,
        "run": run_end - run_start,
        "CLI exit": launched + seconds - run_end,
    }
    work = (
        f"{events[DagsterEventType.ASSET_MATERIALIZATION.value]} materializations, "
        f"{events[DagsterEventType.ASSET_CHECK_EVALUATION.value]} checks, "
        f"{events[DagsterEventType.ASSET_OBSERVATION.value]} observations"
    )
    return Run(route, seconds, split, work, timeline)


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


def print_definitions_load(loads: list[tuple[float, float, float]]) -> None:
    print(f"definitions load in a fresh interpreter, first and best of {len(loads)}:")
    for label, load in (("first", loads[0]), ("best", min(loads, key=sum))):
        interpreter, imported, resolved = load
        print(
            f"  {label:<5} {sum(load):5.2f} s  (interpreter {interpreter:.2f} s, "
            f"import {imported:.2f} s, resolve_asset_graph {resolved:.2f} s)"
        )
    best = sum(min(loads, key=sum))
    verdict = "met" if best <= DEFINITIONS_GOAL else "missed"
    print(f"  best {best:.2f} s, goal <= {DEFINITIONS_GOAL:.1f} s {verdict}")


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", choices=list(SCALES), default="default")
    parser.add_argument(
        "--routes", default="direct,dagster,dagster-ui", help=f"of {', '.join(ROUTES)}"
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each route; best counts")
    parser.add_argument("--loads", type=int, default=3, help="definitions loads to time")
    args = parser.parse_args()
    routes = args.routes.split(",")
    assert set(routes) <= set(ROUTES), f"routes are {', '.join(ROUTES)}"

    print(f"{os.cpu_count()} cores, {load_average()}")
    runs: list[Run] = []
    for round_number in range(1, args.repeat + 1):
        for route in routes:
            with fresh_shop(args.days, args.scale) as (env, scratch, shop):
                if not runs:
                    print(
                        f"{args.days} days at {args.scale} scale: {shop['orders']:,} orders, "
                        f"{shop['events']:,} events (generated in {shop['seconds']:.1f} s)"
                    )
                    print_definitions_load(definitions_load(env, args.loads))
                run = direct(env, scratch) if route == "direct" else dagster(env, scratch, route)
            runs.append(run)
            print(f"  run {round_number} {run.summary()}  {run.work}")
            for line in run.timeline:
                print(f"        {line}")

    best = {
        route: min((run for run in runs if run.route == route), key=lambda run: run.seconds)
        for route in routes
    }
    print(f"best of {args.repeat}, {load_average()}:")
    for route, run in best.items():
        ratio = f"  {run.seconds / best['direct'].seconds:.2f}x direct" if "direct" in best else ""
        print(f"  {run.summary()}{ratio if route != 'direct' else ''}")
    for route, goal in GOALS.items():
        if "direct" in best and route in best:
            ratio = best[route].seconds / best["direct"].seconds
            verdict = "met" if ratio <= goal else "missed"
            print(f"{route} / direct: {ratio:.2f}x, goal <= {goal:.2f}x {verdict}")


if __name__ == "__main__":
    main()
