"""The code location: ``dagster dev -m orchestration.definitions``.

Everything is built from two things: the loads of ``ingestion/registry.py`` and the dbt manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dagster import Definitions

from ingestion.files import FilesLoad
from ingestion.load import Load
from ingestion.registry import LOADS
from orchestration.assets.ingestion import load_assets, source_system_specs
from orchestration.assets.transformation import dbt_model_assets
from orchestration.checks import reconciliation_check
from orchestration.executor import default_executor
from orchestration.freshness import with_source_freshness
from orchestration.jobs import load_files_job, refresh_warehouse
from orchestration.project import dbt_project
from orchestration.resources import resources
from orchestration.schedules import daily_refresh
from orchestration.sensors import new_files_sensor


def build_definitions(
    loads: Sequence[Load] = LOADS, manifest_path: Path | None = None
) -> Definitions:
    """The asset graph of ``loads`` and the dbt project whose manifest is ``manifest_path``
    (default: the project's), with checks, jobs, the schedule, sensors and resources."""
    manifest_path = manifest_path or dbt_project.manifest_path
    raw_tables = {load.name: load_assets(load) for load in loads}
    file_loads = [load for load in loads if isinstance(load, FilesLoad)]
    file_jobs = {load.name: load_files_job(load.name, raw_tables[load.name]) for load in file_loads}
    return Definitions(
        assets=[
            *source_system_specs(loads),
            *with_source_freshness(list(raw_tables.values()), manifest_path),
            *dbt_model_assets(manifest_path),
        ],
        asset_checks=[reconciliation_check(load) for load in loads],
        jobs=[refresh_warehouse, *file_jobs.values()],
        schedules=[daily_refresh],
        sensors=[new_files_sensor(load, file_jobs[load.name]) for load in file_loads],
        resources=resources(),
        executor=default_executor,
    )


defs = build_definitions()
