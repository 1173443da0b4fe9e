"""dlt pipelines as assets: one asset per raw table, plus the source-system tables upstream."""

from dagster import AssetExecutionContext, AssetSpec
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.shop import PRIMARY_KEYS, shop_pipeline, shop_source
from orchestration.project import settings
from orchestration.translators import WarehouseDltTranslator, source_system_table_key

shop_tables = [
    AssetSpec(
        source_system_table_key("shop", table),
        description=f"The `{table}` table of the shop's operational database (not managed here).",
        group_name="sources",
        kinds={"postgres"},
    )
    for table in PRIMARY_KEYS
]


@dlt_assets(
    dlt_source=shop_source(settings),
    dlt_pipeline=shop_pipeline(settings),
    name="shop",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_shop",
)
def shop_raw_tables(context: AssetExecutionContext, dlt: DagsterDltResource):
    """Load the shop database into raw_shop."""
    # A fresh source per run: its tables are reflected at extraction, and a source object
    # reused by a long-lived process would carry the previous run's state.
    yield from dlt.run(context=context, dlt_source=shop_source(settings))
