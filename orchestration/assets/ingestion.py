"""dlt pipelines as assets: one asset per raw table, plus the source systems upstream.

Each pipeline has its own concurrency pool, so two runs never load the same pipeline at once.
"""

from collections.abc import Iterator

import dlt as dlt_lib
from dagster import AssetExecutionContext, AssetSpec, MaterializeResult
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.landing import landing, landing_pipeline
from ingestion.payments import payments_pipeline, payments_source
from ingestion.pipelines import RUN_OPTIONS, extracted_rows
from ingestion.shop import PRIMARY_KEYS, shop_pipeline, shop_source
from orchestration.project import settings
from orchestration.translators import (
    SOURCE_SYSTEM_GROUP,
    WarehouseDltTranslator,
    source_system_table_key,
)


def _source_system(source: str, name: str, description: str, kind: str) -> AssetSpec:
    return AssetSpec(
        source_system_table_key(source, name),
        description=f"{description} (not managed here).",
        group_name=SOURCE_SYSTEM_GROUP,
        kinds={kind},
    )


source_systems = [
    *(
        _source_system("shop", table, f"The `{table}` table of the shop's database", "postgres")
        for table in PRIMARY_KEYS
    ),
    _source_system("payments", "payments", "The payments API, `GET /v1/payments`", "api"),
    _source_system("landing", "events", "Daily event files, `events/*.jsonl.gz`", "file"),
    _source_system("landing", "marketing", "Daily marketing spend, `marketing/*.csv`", "file"),
]


def _run(
    context: AssetExecutionContext,
    dlt: DagsterDltResource,
    source: dlt_lib.sources.DltSource,
    pipeline: dlt_lib.Pipeline,
) -> Iterator[MaterializeResult]:
    """Run the pipeline the fast way (dlt logs its progress every 10 s), with each table's row
    count from the extract step."""
    run = dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline, **RUN_OPTIONS)
    results = list(run)
    # dagster-dlt's rows_loaded comes from dlt's normalize counts, which count cells for CSV
    # written from Python rows (dlt-hub/dlt#4461).
    rows = extracted_rows(pipeline)
    for result in results:
        table = result.asset_key.path[-1]
        yield MaterializeResult(
            asset_key=result.asset_key,
            metadata={**(result.metadata or {}), "rows_loaded": rows.get(table, 0)},
        )


@dlt_assets(
    dlt_source=shop_source(settings),
    dlt_pipeline=shop_pipeline(settings),
    name="shop",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_shop",
)
def shop_raw_tables(context: AssetExecutionContext, dlt: DagsterDltResource):
    """Load the shop database into raw_shop."""
    # A fresh source and pipeline object per run: a long-lived process must not carry the
    # previous run's state.
    yield from _run(context, dlt, shop_source(settings), shop_pipeline(settings, progress="log"))


@dlt_assets(
    # Only the resources' names are read here; the URL and token are read when a run starts, so
    # loading the definitions needs no secret.
    dlt_source=payments_source(base_url="http://unused", api_token="unused"),
    dlt_pipeline=payments_pipeline(settings),
    name="payments",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_payments",
)
def payments_raw_tables(context: AssetExecutionContext, dlt: DagsterDltResource):
    """Load the payments API into raw_payments."""
    yield from _run(context, dlt, payments_source(), payments_pipeline(settings, progress="log"))


@dlt_assets(
    dlt_source=landing(settings),
    dlt_pipeline=landing_pipeline(settings),
    name="landing",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_landing",
)
def landing_raw_tables(context: AssetExecutionContext, dlt: DagsterDltResource):
    """Load new files from the landing folder into raw_events."""
    yield from _run(context, dlt, landing(settings), landing_pipeline(settings, progress="log"))
