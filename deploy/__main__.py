"""``python -m deploy COMMAND``: the production topology (``make prod-up``, ``prod-down``,
``prod-status``) and the start-up step every topology runs before its services.

up       prepare the instance, start the code server, webserver and daemon, wait until they answer
down     stop them (SIGTERM, then SIGKILL of each process group): within 30 s
status   whether each runs and answers; exit 1 unless all do
prepare  the start-up alone, on the instance in DAGSTER_HOME: Dagster's database reachable as its
         user, each load's pool limited to one run (and with --end-dead-runs, runs whose process
         is gone on this machine ended). Containers run it before the services.

Errors print one line to stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deploy.storage import StorageError
from deploy.topology import TopologyError, down, prepare, status, up
from warehouse.connection import WarehouseUnavailable
from warehouse.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    subcommands.add_parser("up", help="start the local production topology")
    subcommands.add_parser("down", help="stop it")
    subcommands.add_parser("status", help="say whether each service runs and answers")
    start_up = subcommands.add_parser("prepare", help="the start-up step alone")
    start_up.add_argument(
        "--end-dead-runs",
        action="store_true",
        help="end runs whose process is gone (only where every run runs on this machine)",
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            up()
        elif args.command == "down":
            down()
        elif args.command == "status":
            statuses = status()
            for service in statuses:
                state = f"running (pid {service.pid})" if service.pid else "stopped"
                answer = ", answering" if service.answering else ""
                print(f"{service.service:<12} {state}{answer}")
            return 0 if all(service.answering for service in statuses) else 1
        elif args.command == "prepare":
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                print("error: DAGSTER_HOME is not set", file=sys.stderr)
                return 1
            ended = prepare(
                Path(home),
                settings=None,
                end_dead_runs=args.end_dead_runs,
            )
            for run in ended:
                print(f"run {run.run_id} of {run.job_name}: its process is gone; marked failed")
            print("Dagster instance prepared: each load's pool limited to one run")
    except (TopologyError, StorageError, SettingsError, WarehouseUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
