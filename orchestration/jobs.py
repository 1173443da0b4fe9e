"""The jobs: what runs together.

Run tags say what started a run and let ``dagster/max_retries`` (with ``run_retries`` in
dagster.yaml) start a failed run again once when its process died (a lost container, a killed
worker), not when a step failed: a failing dbt test must fail the run, not run it twice.
Transient step failures (a dropped database connection during a load) are retried inside the
step instead; see ``orchestration/assets/ingestion.py``.
"""

from dagster import AssetSelection, define_asset_job

from orchestration.assets.ingestion import landing_raw_tables

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

load_landing_files = define_asset_job(
    name="load_landing_files",
    selection=AssetSelection.assets(landing_raw_tables).downstream(),
    description="Load new landing files with dlt, then build and test what dbt has downstream.",
    tags={**RUN_TAGS, "platform/scope": "landing"},
)
