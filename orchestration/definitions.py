"""The code location: ``dagster dev -m orchestration.definitions``."""

from __future__ import annotations

from dagster import Definitions
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.assets.ingestion import (
    landing_raw_tables,
    payments_raw_tables,
    shop_raw_tables,
    source_systems,
)
from orchestration.assets.transformation import dbt_models
from orchestration.project import DBT_EXECUTABLE, dbt_project
from orchestration.schedules import daily_refresh, refresh_warehouse

defs = Definitions(
    assets=[
        *source_systems,
        shop_raw_tables,
        payments_raw_tables,
        landing_raw_tables,
        dbt_models,
    ],
    jobs=[refresh_warehouse],
    schedules=[daily_refresh],
    resources={
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
        "dlt": DagsterDltResource(),
    },
)
