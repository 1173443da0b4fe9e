"""What every pipeline shares: the warehouse destination, where dlt keeps its state, and how runs
write to Postgres.

Every load goes the fast way: dlt writes its load files as CSV and the Postgres destination
``COPY``s them in, instead of building ``INSERT ... VALUES`` statements. Intermediate files are
not gzipped (``[data_writer] disable_compression`` in ``.dlt/config.toml``): compressing files
that live for a second cost most of the normalize step (see ``bench/ingest.py``).
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations import postgres

from warehouse.settings import WarehouseSettings

LOADER_FILE_FORMAT = "csv"
"""Load files are CSV, which the Postgres destination loads with COPY."""

RUN_OPTIONS: dict[str, Any] = {"loader_file_format": LOADER_FILE_FORMAT}
"""Keyword arguments for ``pipeline.run``, shared by the command line, Dagster and benchmarks."""


def warehouse_pipeline(
    name: str, dataset_name: str, settings: WarehouseSettings, progress: str | None = None
) -> dlt.Pipeline:
    """A dlt pipeline ``name`` loading into the ``dataset_name`` schema of the warehouse.

    ``progress="log"`` prints dlt's progress (rows extracted, files normalized and loaded) every
    few seconds, for long loads run by hand.
    """
    return dlt.pipeline(
        pipeline_name=name,
        destination=postgres(credentials=settings.url()),
        dataset_name=dataset_name,
        pipelines_dir=str(settings.dlt_pipelines_dir),
        progress=dlt.progress.log(log_period=10, dump_system_stats=False)
        if progress == "log"
        else progress,
    )


def run(pipeline: dlt.Pipeline, source: Any) -> LoadInfo:
    """Run ``pipeline`` on ``source`` the fast way, raising if any load job failed."""
    info = pipeline.run(source, **RUN_OPTIONS)
    info.raise_on_failed_jobs()
    return info


def extracted_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows extracted per table in the pipeline's last run, dlt's own tables left out.

    Read from the extract step: dlt's normalize counts for CSV files written from Python rows
    count cells, not rows (dlt-hub/dlt#4461).
    """
    info = pipeline.last_trace.last_extract_info
    counts: dict[str, int] = {}
    for metrics in info.metrics.values():
        for load_metrics in metrics:
            for table, table_metrics in load_metrics["table_metrics"].items():
                if not table.startswith("_dlt"):
                    counts[table] = counts.get(table, 0) + table_metrics.items_count
    return counts
