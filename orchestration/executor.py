"""The executor of every job, as runs launched from the UI, a schedule or a sensor use it.

Dagster's default executor starts a fresh Python for every step (``spawn``), and each one imports
the code location again: dagster, dagster-dbt with dbt-core, dlt (5 to 11 s per step on this
machine, ``bench/orchestration.py``); its ``forkserver`` option still starts one fresh Python per
run that imports them all before the first step. Here the default, on Linux, forks every step
process from the run's own process, which has loaded the code location already: a step starts in
a fraction of a second. Steps still run in processes of their own, in parallel, and a crash stays
in its step. On macOS, where forking a process that has loaded system frameworks can crash it,
the default is ``forkserver`` with the code location preloaded.

Forking is safe here because the run's process holds no lock another thread could be holding at
that moment: Python re-initialises the import and logging locks in the child, a step opens its
own connections to Dagster's storage and the warehouse, and nothing of the parent's is closed
when the child ends (multiprocessing's fork children leave with ``os._exit``).

Run config chooses otherwise as usual: ``execution: {config: {in_process: {}}}`` (``make run``),
``multiprocess: {start_method: {forkserver: {}}}`` or ``{spawn: {}}``.
"""

from __future__ import annotations

import sys

from dagster import Executor, InitExecutorContext, executor, multi_or_in_process_executor
from dagster._core.executor.multiprocess import MultiprocessExecutor

FORK = "fork"
FORKSERVER = "forkserver"


@executor(
    name=multi_or_in_process_executor.name,
    config_schema=multi_or_in_process_executor.config_schema,
    requirements=multi_or_in_process_executor.get_requirements,
)
def default_executor(context: InitExecutorContext) -> Executor:
    """Dagster's ``multi_or_in_process_executor``, whose multiprocess mode forks its step
    processes unless the run config names a start method."""
    created = multi_or_in_process_executor.executor_creation_fn(context)
    multiprocess = context.executor_config.get("multiprocess")
    if isinstance(created, MultiprocessExecutor) and not multiprocess.get("start_method"):
        # Dagster's config offers spawn and forkserver only; the executor takes any start
        # method multiprocessing has.
        # With forkserver, Dagster preloads the job's module, as its own option does.
        created._start_method = default_start_method()
    return created


def default_start_method(platform: str = sys.platform) -> str:
    """``fork`` on Linux; elsewhere (macOS, where forking a process that has loaded system
    frameworks can crash it) Dagster's ``forkserver``, which imports the code location once per
    run."""
    return FORK if platform.startswith("linux") else FORKSERVER
