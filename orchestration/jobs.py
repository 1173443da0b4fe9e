"""The jobs: what runs together.

Run tags say what started a run and let ``dagster/max_retries`` (with ``run_retries`` in
dagster.yaml) start a failed run again once when its process died (a lost container, a killed
worker), not when a step failed: a failing dbt test must fail the run, not run it twice.
Transient step failures (a dropped database connection during a load) are retried inside the
step instead; see ``orchestration/assets/ingestion.py``.
"""

from __future__ import annotations

from dagster import AssetsDefinition, AssetSelection, define_asset_job

RUN_TAGS = {
    "platform": "elt",
    "dagster/max_retries": "1",
    "dagster/retry_on_asset_or_op_failure": "false",
}

refresh_warehouse = define_asset_job(
    name="refresh_warehouse",
    selection=AssetSelection.all(),
    description="Load every source with dlt, then build and test every dbt model.",
    tags={**RUN_TAGS, "platform/scope": "everything"},
)


def load_files_job(load_name: str, raw_tables: AssetsDefinition):
    """Load the new files of one load, then build and test what dbt has downstream."""
    return define_asset_job(
        name=f"load_{load_name}_files",
        selection=AssetSelection.assets(raw_tables).downstream(),
        description=f"Load new files of {load_name} with dlt, then build and test what dbt "
        "has downstream of them.",
        tags={**RUN_TAGS, "platform/scope": load_name},
    )
