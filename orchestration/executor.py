"""The executor of every job, as runs launched from the UI, a schedule or a sensor use it.

Dagster's default executor starts a fresh Python for every step, and each one imports the code
location again: dagster, dagster-dbt with dbt-core, dlt (5 to 11 s per step on this machine,
``bench/orchestration.py``). Here the default is the same executor with ``forkserver``: one
server process per run imports :data:`STEP_PRELOAD` once, and every step process is forked
from it, with those modules already imported. Steps still run in processes of their own, in
parallel, and a crash stays in its step.

Run config chooses otherwise as usual: ``execution: {config: {in_process: {}}}`` (``make run``),
or ``multiprocess: {start_method: {spawn: {}}}``.
"""

from __future__ import annotations

from dagster import ExecutorDefinition, Field, multi_or_in_process_executor

STEP_PRELOAD = (
    # The code location, and with it dagster, dagster-dbt, dagster-dlt, dlt and the sources.
    "orchestration.definitions",
    # What a load step runs: dlt's normalize and load steps, the Postgres destination, Arrow.
    "dlt.normalize",
    "dlt.load",
    "dlt.destinations.impl.postgres.postgres",
    "pyarrow.parquet",
)
"""Modules the forkserver imports before it forks step processes. Python ignores one it cannot
import, so ``tests/unit/test_executor.py`` checks that each one does."""

DEFAULT_EXECUTION = {
    "multiprocess": {"start_method": {"forkserver": {"preload_modules": list(STEP_PRELOAD)}}}
}


def default_executor() -> ExecutorDefinition:
    """Dagster's ``multi_or_in_process_executor``, whose default is forkserver with
    :data:`STEP_PRELOAD`; its run config is otherwise the same."""
    return multi_or_in_process_executor.configured(
        lambda config: config,
        name="multi_or_in_process_executor",
        config_schema=Field(
            multi_or_in_process_executor.config_schema.as_field().config_type,
            default_value=DEFAULT_EXECUTION,
        ),
    )
