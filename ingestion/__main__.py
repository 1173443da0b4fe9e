"""``python -m ingestion [shop|payments|landing ...]``: run the dlt pipelines by hand.

Dagster runs the same pipelines as assets; this is for a quick load while developing, and for
benchmarks. Prints the rows loaded per table, the rejected lines and files, and the
reconciliation of the merge tables with their sources. Exits non-zero on any failure or
mismatch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import landing, payments, shop
from ingestion.pipelines import extracted_rows, run
from ingestion.reconcile import reconcile
from warehouse.connection import WarehouseUnavailable, check_connection
from warehouse.settings import SettingsError, WarehouseSettings, load_settings

PIPELINES: dict[str, tuple[Callable[..., dlt.Pipeline], Callable[[WarehouseSettings], object]]] = {
    "shop": (shop.shop_pipeline, shop.shop_source),
    "payments": (payments.payments_pipeline, lambda settings: payments.payments_source()),
    "landing": (landing.landing_pipeline, landing.landing),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    parser.add_argument(
        "sources", nargs="*", metavar="SOURCE", help=f"any of {', '.join(PIPELINES)} (default: all)"
    )
    parser.add_argument("--progress", action="store_true", help="log dlt's progress")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sources) - set(PIPELINES))
    if unknown:
        parser.error(f"unknown source {', '.join(unknown)}: choose from {', '.join(PIPELINES)}")
    try:
        settings = load_settings()
        check_connection(settings)
        datasets = []
        for name in args.sources or PIPELINES:
            make_pipeline, make_source = PIPELINES[name]
            pipeline = make_pipeline(settings, progress="log" if args.progress else None)
            run(pipeline, make_source(settings))
            datasets.append(pipeline.dataset_name)
            loaded = ", ".join(
                f"{table} {rows:,}" for table, rows in sorted(extracted_rows(pipeline).items())
            )
            print(f"{name} -> {pipeline.dataset_name}: {loaded or 'nothing new'}")
        results = reconcile(settings, tuple(datasets))
    except (SettingsError, WarehouseUnavailable, PipelineStepFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for result in results:
        print(f"  {result}")
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
