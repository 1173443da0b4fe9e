"""dlt loads as assets, built in a loop over the registry (``ingestion/registry.py``): one asset
per raw table, plus what each load reads in its source system, upstream.

Each load has its own concurrency pool, ``dlt_<name>`` (limited to one at a time by the
instance, see ``orchestration/dagster.yaml``), and holds the load's lock in the warehouse while
it runs (``ingestion.load.exclusive_load``), so it never overlaps a load of the same pipeline
started anywhere else. A load that fails for a transient reason (the warehouse restarting, a
dropped connection) is retried by Dagster after a pause; a terminal one (a wrong token, a mass
deletion) fails at once, with one line saying why. The retry extracts again from the state last
committed to the warehouse: merge tables take the same rows again harmlessly, and files are
merged by file, so a file read again replaces its rows.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dlt as dlt_lib
from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DagsterInvariantViolationError,
    Failure,
    MaterializeResult,
    RetryRequested,
)
from dagster_dlt import DagsterDltResource, dlt_assets

from ingestion.load import Load, exclusive_load, explain_failure, extracted_rows, is_transient
from orchestration.partitions import daily_partitions, days_in_window, days_materialized
from orchestration.resources import WarehouseResource
from orchestration.translators import (
    SOURCE_SYSTEM_GROUP,
    WarehouseDltTranslator,
    source_system_key,
)

TRANSIENT_RETRIES = 3
TRANSIENT_RETRY_SECONDS = 10


def source_system_specs(loads: Sequence[Load]) -> list[AssetSpec]:
    """What every load reads, as assets Dagster does not materialize."""
    return [
        AssetSpec(
            source_system_key(load.name, system.name),
            description=f"{system.description} (not managed here).",
            group_name=SOURCE_SYSTEM_GROUP,
            kinds={load.kind},
        )
        for load in loads
        for system in load.source_systems()
    ]


def load_assets(load: Load) -> AssetsDefinition:
    """The raw tables of ``load`` as one multi-asset running its dlt pipeline.

    A daily-partitioned load, run for a partition (or a range, in one backfill run), reloads
    exactly those days; without a partition it loads what is new.
    """
    partitions = daily_partitions if load.daily_partitioned else None

    @dlt_assets(
        dlt_source=load.definitions_source(),
        dlt_pipeline=load.pipeline(),
        name=load.name,
        dagster_dlt_translator=WarehouseDltTranslator(load),
        pool=f"dlt_{load.name}",
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.single_run() if partitions else None,
    )
    def raw_tables(
        context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource
    ) -> Iterator[MaterializeResult | AssetMaterialization]:
        if load.load_together and context.is_subset:
            # One read feeds every table, and moves the load's cursor or marks files loaded:
            # loading only some of them would lose the others' rows for good.
            tables = ", ".join(key.to_user_string() for key in sorted(context.assets_def.keys))
            raise DagsterInvariantViolationError(
                f"The {load.name} tables load together: select all of {tables}."
            )
        settings = warehouse.settings()
        pipeline = load.pipeline(settings, progress="log")
        with one_line_errors(load), exclusive_load(load, settings, say=context.log.info):
            if context.has_partition_key:
                window = context.partition_time_window
                days = days_in_window(window.start, window.end)
                context.log.info(f"Reloading {load.name} for {', '.join(days)}")
                source = load.reload_source(pipeline, days)
                yield from _run(context, dlt, source, pipeline, load.loader_file_format)
            else:
                yield from _run(context, dlt, load.source(), pipeline, load.loader_file_format)
                # New files of any day load without a partition: their days are partitions too.
                if load.daily_partitioned:
                    load_ids = pipeline.last_trace.last_load_info.loads_ids
                    yield from days_materialized(
                        context.selected_asset_keys, load.days_loaded(pipeline, load_ids)
                    )
            load.index_raw_tables(pipeline)

    return raw_tables


@contextmanager
def one_line_errors(load: Load) -> Iterator[None]:
    """A load's failures (a missing setting, a source that cannot be read safely or reached) as
    a failure whose description is one line naming the fix; transient ones are retried."""
    try:
        yield
    except RetryRequested:
        raise
    except Exception as error:
        raise Failure(description=explain_failure(load, error)) from error


def _run(
    context: AssetExecutionContext,
    dlt: DagsterDltResource,
    source: dlt_lib.sources.DltSource,
    pipeline: dlt_lib.Pipeline,
    loader_file_format: str,
) -> Iterator[MaterializeResult]:
    """Run the pipeline the fast way (dlt logs its progress every 10 s), with each table's row
    count from the extract step."""
    try:
        results = list(
            dlt.run(
                context=context,
                dlt_source=source,
                dlt_pipeline=pipeline,
                loader_file_format=loader_file_format,
            )
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
