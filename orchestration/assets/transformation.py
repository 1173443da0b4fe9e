"""The dbt project as assets: every model, seed and snapshot, with dbt tests as asset checks."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.translators import WarehouseDbtTranslator


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=WarehouseDbtTranslator())
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected models: each model is built, then tested."""
    yield from dbt.cli(["build"], context=context).stream()
