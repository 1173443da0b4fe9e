"""dlt pipelines as assets: one asset per raw table, plus the source systems upstream.

Each pipeline has its own concurrency pool, so two runs never load the same pipeline at once.
A load that fails for a transient reason (the warehouse restarting, a dropped connection) is
retried by Dagster after a pause; a terminal one (a wrong token, a mass deletion) fails at once.
The retry extracts again from the state last committed to the warehouse: merge tables take the
same rows again harmlessly, and landing files not yet recorded as loaded are read again.
"""

from collections.abc import Iterator
from datetime import timedelta

import dlt as dlt_lib
import psycopg2
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    DagsterInvariantViolationError,
    MaterializeResult,
    RetryRequested,
)
from dagster_dlt import DagsterDltResource, dlt_assets
from dlt.common.exceptions import TransientException

from ingestion.landing import forget_days, landing, landing_pipeline
from ingestion.payments import payments_pipeline, payments_source
from ingestion.pipelines import RUN_OPTIONS, extracted_rows
from ingestion.shop import PRIMARY_KEYS, shop_pipeline, shop_source
from orchestration.partitions import daily_partitions
from orchestration.project import settings
from orchestration.resources import PaymentsApiResource, WarehouseResource
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


TRANSIENT_RETRIES = 3
TRANSIENT_RETRY_SECONDS = 10


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is one that can pass by itself: a dlt transient
    exception, a lost database connection, a network error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TransientException | psycopg2.OperationalError | ConnectionError):
            return True
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return False


def _run(
    context: AssetExecutionContext,
    dlt: DagsterDltResource,
    source: dlt_lib.sources.DltSource,
    pipeline: dlt_lib.Pipeline,
) -> Iterator[MaterializeResult]:
    """Run the pipeline the fast way (dlt logs its progress every 10 s), with each table's row
    count from the extract step."""
    try:
        results = list(
            dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline, **RUN_OPTIONS)
        )
    except Exception as error:
        if is_transient(error):
            raise RetryRequested(
                max_retries=TRANSIENT_RETRIES, seconds_to_wait=TRANSIENT_RETRY_SECONDS
            ) from error
        raise
    # dagster-dlt's rows_loaded comes from dlt's normalize counts, which count cells for CSV
    # written from Python rows (dlt-hub/dlt#4461).
    rows = extracted_rows(pipeline)
    load_ids = ", ".join(pipeline.last_trace.last_load_info.loads_ids)
    for result in results:
        table = result.asset_key.path[-1]
        yield MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                "rows_loaded": rows.get(table, 0),
                # The _dlt_load_id of the rows this run wrote, to find them in the table.
                "dlt_load_ids": load_ids,
            },
        )


@dlt_assets(
    dlt_source=shop_source(settings),
    dlt_pipeline=shop_pipeline(settings),
    name="shop",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_shop",
)
def shop_raw_tables(
    context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource
):
    """Load the shop database into raw_shop."""
    # A fresh source and pipeline object per run: a long-lived process must not carry the
    # previous run's state.
    run_settings = warehouse.settings()
    yield from _run(
        context, dlt, shop_source(run_settings), shop_pipeline(run_settings, progress="log")
    )


@dlt_assets(
    # Only the resources' names are read here; the URL and token are read when a run starts, so
    # loading the definitions needs no secret.
    dlt_source=payments_source(base_url="http://unused", api_token="unused"),
    dlt_pipeline=payments_pipeline(settings),
    name="payments",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_payments",
)
def payments_raw_tables(
    context: AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    payments_api: PaymentsApiResource,
):
    """Load the payments API into raw_payments."""
    source = payments_source(api_token=payments_api.token)
    yield from _run(context, dlt, source, payments_pipeline(warehouse.settings(), progress="log"))


@dlt_assets(
    dlt_source=landing(settings),
    dlt_pipeline=landing_pipeline(settings),
    name="landing",
    dagster_dlt_translator=WarehouseDltTranslator(),
    pool="dlt_landing",
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
)
def landing_raw_tables(
    context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource
):
    """Load new files from the landing folder into raw_events; for a partition (or a backfill
    of a range), reload exactly those days' files, replacing what they loaded before."""
    if context.is_subset:
        # One read of each file feeds all four tables, and marks the file loaded: loading only
        # some of them would lose the others' rows for good.
        raise DagsterInvariantViolationError(
            "The landing tables load together: select all four of raw_events/events, "
            "raw_events/marketing_spend, raw_events/_rejected_lines and raw_events/_rejected_files."
        )
    run_settings = warehouse.settings()
    pipeline = landing_pipeline(run_settings, progress="log")
    days: list[str] = []
    if context.has_partition_key:
        window = context.partition_time_window
        days = [
            (window.start + timedelta(days=offset)).date().isoformat()
            for offset in range((window.end - window.start).days)
        ]
        context.log.info(f"Reloading the landing files of {', '.join(days)}")
        forget_days(pipeline, days)
    yield from _run(context, dlt, landing(run_settings, reload_days=days), pipeline)
