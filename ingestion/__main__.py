"""``python -m ingestion [SOURCE ...]``: run the loads of the registry by hand, all or the named.

Dagster runs the same loads as assets; this is for a quick load while developing, and for
benchmarks. Prints the rows loaded per table and the time, and the reconciliation of each load
with its source; ``--progress`` (``make load VERBOSE=1``) adds dlt's progress. Exits non-zero on
any failure or mismatch, with one line saying why.

A load another process runs already (here, in Dagster or on another machine) is waited for,
with one line saying so; ``--no-wait`` refuses instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from ingestion.load import Load, exclusive_load, explain_failure, extracted_rows, run
from ingestion.registry import LOADS, loads_named
from warehouse.connection import WarehouseUnavailable, check_connection
from warehouse.settings import LOADER, SettingsError, WarehouseSettings, load_settings

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None, loads: Sequence[Load] = LOADS) -> int:
    names = ", ".join(load.name for load in loads)
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help=f"any of {names}")
    parser.add_argument("--progress", action="store_true", help="log dlt's progress")
    parser.add_argument(
        "--no-wait", action="store_true", help="refuse, rather than wait, if the load runs already"
    )
    args = parser.parse_args(argv)
    try:
        selected = loads_named(args.sources, tuple(loads))
    except KeyError as error:
        parser.error(error.args[0])
    try:
        settings = load_settings(role=LOADER)
        check_connection(settings)
    except (SettingsError, WarehouseUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    ok = True
    for load in selected:
        try:
            ok = load_one(load, settings, args) and ok
        except Exception as error:
            log.debug("%s failed", load.name, exc_info=True)
            print(f"error: {explain_failure(load, error)}", file=sys.stderr)
            return 1
    return 0 if ok else 1


def load_one(load: Load, settings: WarehouseSettings, args: argparse.Namespace) -> bool:
    """Run one load, print what it loaded and its reconciliation; whether that holds."""
    pipeline = load.pipeline(settings, progress="log" if args.progress else None)
    started = time.monotonic()
    with exclusive_load(load, settings, wait=not args.no_wait, say=print):
        run(pipeline, load.source(), say=print, loader_file_format=load.loader_file_format)
        load.index_raw_tables(pipeline)
    loaded = ", ".join(
        f"{table} {rows:,}" for table, rows in sorted(extracted_rows(pipeline).items())
    )
    took = time.monotonic() - started
    print(f"{load.name} -> {load.dataset}: {loaded or 'nothing new'} ({took:.1f} s)")
    results = load.reconcile(pipeline)
    for result in results:
        print(f"  {result}")
    return all(result.ok for result in results)


if __name__ == "__main__":
    sys.exit(main())
