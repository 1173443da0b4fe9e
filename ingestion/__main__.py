"""``python -m ingestion [SOURCE ...]``: run the loads of the registry by hand, all or the named.

Dagster runs the same loads as assets; this is for a quick load while developing, and for
benchmarks. Prints the rows loaded per table and the reconciliation of each load with its
source. Exits non-zero on any failure or mismatch, with one line saying why.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.load import (
    Load,
    LoadConfigurationError,
    SourceError,
    explain_configuration_error,
    extracted_rows,
    run,
)
from ingestion.registry import LOADS, loads_named
from warehouse.connection import WarehouseUnavailable, check_connection
from warehouse.settings import SettingsError, load_settings


def main(argv: list[str] | None = None, loads: Sequence[Load] = LOADS) -> int:
    names = ", ".join(load.name for load in loads)
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help=f"any of {names}")
    parser.add_argument("--progress", action="store_true", help="log dlt's progress")
    args = parser.parse_args(argv)
    try:
        selected = loads_named(args.sources, tuple(loads))
    except KeyError as error:
        parser.error(error.args[0])
    try:
        settings = load_settings()
        check_connection(settings)
        ok = True
        for load in selected:
            pipeline = load.pipeline(settings, progress="log" if args.progress else None)
            run(pipeline, load.source())
            loaded = ", ".join(
                f"{table} {rows:,}" for table, rows in sorted(extracted_rows(pipeline).items())
            )
            print(f"{load.name} -> {load.dataset}: {loaded or 'nothing new'}")
            for result in load.reconcile(pipeline):
                print(f"  {result}")
                ok = ok and result.ok
    except ConfigFieldMissingException as error:
        print(f"error: {explain_configuration_error(error)}", file=sys.stderr)
        return 1
    except PipelineStepFailed as error:
        cause = error.exception
        if isinstance(cause, ConfigFieldMissingException):
            print(f"error: {explain_configuration_error(cause)}", file=sys.stderr)
        else:
            print(f"error: {error}", file=sys.stderr)
        return 1
    except (
        SettingsError,
        WarehouseUnavailable,
        LoadConfigurationError,
        SourceError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
