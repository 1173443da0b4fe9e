"""The code location: ``dagster dev -m orchestration.definitions``."""

from dagster import Definitions

from orchestration.assets.ingestion import (
    landing_raw_tables,
    payments_raw_tables,
    shop_raw_tables,
    source_systems,
)
from orchestration.assets.transformation import dbt_daily_models, dbt_models
from orchestration.checks import raw_tables_reconcile
from orchestration.freshness import with_source_freshness
from orchestration.jobs import load_landing_files, refresh_warehouse
from orchestration.project import dbt_project
from orchestration.resources import resources
from orchestration.schedules import daily_refresh
from orchestration.sensors import new_landing_files

defs = Definitions(
    assets=[
        *source_systems,
        *with_source_freshness(
            [shop_raw_tables, payments_raw_tables, landing_raw_tables], dbt_project.manifest_path
        ),
        dbt_models,
        dbt_daily_models,
    ],
    asset_checks=[raw_tables_reconcile],
    jobs=[refresh_warehouse, load_landing_files],
    schedules=[daily_refresh],
    sensors=[new_landing_files],
    resources=resources(),
)
