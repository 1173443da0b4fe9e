"""What every load shares: the :class:`Load` the registry lists, the warehouse destination, where
dlt keeps its state, how runs write to Postgres, and what reconciliation reports.

A load is one source system read by one dlt pipeline into one raw schema. Its ``name`` is the
source's one name along the whole path: the configuration section ``[sources.<name>]``, the dlt
source and pipeline, the raw schema ``raw_<name>``, the dbt source ``<name>`` and its staging
models ``stg_<name>__<table>``.

Every load goes the fast way: dlt writes its load files as CSV and the Postgres destination
``COPY``s them in, instead of building ``INSERT ... VALUES`` statements. Intermediate files are
not gzipped (``[data_writer] disable_compression`` in ``.dlt/config.toml``): compressing files
that live for a second cost most of the normalize step (see ``bench/ingest.py``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dlt
import psycopg2
import requests
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    InvalidNativeValue,
    LookupTrace,
    LookupTraces,
)
from dlt.common.exceptions import TransientException
from dlt.common.pipeline import LoadInfo
from dlt.destinations import postgres
from dlt.sources import DltSource

from warehouse.paths import platform_paths
from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

RAW_SCHEMA_PREFIX = "raw_"
LOCK_NAMESPACE = 0x646C74
"""First key of every load's advisory lock (``dlt`` in hex); the second is the raw schema's."""
LOCK_POLL_SECONDS = 2

LOADER_FILE_FORMAT = "csv"
"""Load files of Python rows are CSV, which the Postgres destination loads with ``COPY``. A load
whose rows are Arrow tables says ``parquet`` instead (:attr:`Load.loader_file_format`)."""


class LoadConfigurationError(ValueError):
    """A load's configuration is missing or wrong; the message is one line naming the setting."""


class SourceError(RuntimeError):
    """A source cannot be read safely, or answered what it should not; the message says why."""


@dataclass(frozen=True)
class SourceSystem:
    """Something in a source system that a load reads: a table, an endpoint, a set of files.

    Dagster shows each as an asset upstream of the raw tables, keyed ``<load name>/<name>``.
    """

    name: str
    description: str


@dataclass(frozen=True)
class Reconciliation:
    """A raw table's row count against what the source says it holds."""

    raw_table: str
    source: str
    raw_rows: int
    source_rows: int
    problems: tuple[str, ...] = ()
    """Details that make the check fail even when the totals agree (a file out of balance)."""

    @property
    def ok(self) -> bool:
        return self.raw_rows == self.source_rows and not self.problems

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"MISMATCH ({self.raw_rows - self.source_rows:+,})"
        if self.problems and self.raw_rows == self.source_rows:
            verdict = "MISMATCH"
        text = (
            f"{self.raw_table}: {self.raw_rows:,} rows, source {self.source}: "
            f"{self.source_rows:,} rows: {verdict}"
        )
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        return f"{text}: {shown}{more}" if shown else text


class Load(ABC):
    """One source system, loaded by one dlt pipeline into the schema ``raw_<name>``.

    A subclass knows one protocol (SQL, HTTP, files); what it reads (tables, endpoints, folders)
    and with which credentials is configuration, ``[sources.<name>]`` in ``.dlt/config.toml``,
    ``SOURCES__<NAME>__<KEY>`` or ``.dlt/secrets.toml``. ``config`` given here wins over those
    (tests point a load at their own servers this way).
    """

    kind: ClassVar[str]
    """The source system's kind, as Dagster shows it: ``postgres``, ``api``, ``file``."""
    load_together: ClassVar[bool] = False
    """True when one read feeds every table, so loading only some of them would lose rows."""
    daily_partitioned: ClassVar[bool] = False
    loader_file_format: ClassVar[str] = LOADER_FILE_FORMAT
    """dlt's ``loader_file_format`` for this load's ``pipeline.run``."""
    """True when the load can reload given days (:meth:`reload_source`): Dagster partitions it."""

    def __init__(self, name: str, **config: Any):
        self.name = name
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def configured(self, **config: Any) -> Load:
        """The same load with ``config`` given (winning over its configuration files)."""
        return type(self)(self.name, **{**self.config, **config})

    @property
    def dataset(self) -> str:
        """The raw schema this load writes."""
        return f"{RAW_SCHEMA_PREFIX}{self.name}"

    def setting(self, key: str, *, secret: bool = False, required: bool = True) -> Any:
        """One value of this load's configuration: given to the constructor, else from dlt's
        configuration (``sources.<name>.<key>``)."""
        if key in self.config:
            return self.config[key]
        accessor = dlt.secrets if secret else dlt.config
        value = accessor.get(f"sources.{self.name}.{key}")
        if value is None and required:
            raise LoadConfigurationError(missing_setting_message(self.name, key, secret=secret))
        return value

    @abstractmethod
    def source(self, **config: Any) -> DltSource:
        """The dlt source, named after the load and configured from ``sources.<name>``."""

    def definitions_source(self) -> DltSource:
        """The source as the Dagster definitions see it: its resources, without connecting and
        without any secret (secrets are read when a run starts)."""
        return self.source()

    def days_loaded(self, pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> list[str]:
        """The days (``YYYY-MM-DD``) whose data the loads ``load_ids`` wrote, for a load that is
        :attr:`daily_partitioned`."""
        return []

    @abstractmethod
    def source_systems(self) -> list[SourceSystem]:
        """What the load reads in the source system, one upstream asset each."""

    def reads(self, resource: str) -> list[str]:
        """The source systems (names from :meth:`source_systems`) the resource is loaded from."""
        return [resource]

    @abstractmethod
    def reconciled_tables(self) -> list[str]:
        """The raw tables :meth:`reconcile` checks, known without connecting to anything."""

    @abstractmethod
    def reconcile(self, pipeline: dlt.Pipeline) -> list[Reconciliation]:
        """Each reconciled raw table against the source, counted through the source's own
        protocol; raw is read through ``pipeline``'s destination."""

    def reload_source(self, pipeline: dlt.Pipeline, days: Sequence[str]) -> DltSource:
        """The source that loads exactly the given days again, replacing what they loaded."""
        raise NotImplementedError(f"{self.name} cannot reload days")

    def index_raw_tables(self, pipeline: dlt.Pipeline) -> None:
        """Create the indexes dlt does not, on the raw tables a run of ``pipeline`` wrote; run
        after each load (a no-op once they exist). None by default."""
        return None

    def pipeline(
        self,
        warehouse: WarehouseSettings | None = None,
        *,
        pipelines_dir: Path | None = None,
        progress: str | None = None,
    ) -> dlt.Pipeline:
        """The dlt pipeline that loads this source into ``raw_<name>`` of ``warehouse``.

        Without ``warehouse`` the destination has no credentials: enough to describe the load,
        not to run it. ``progress="log"`` prints dlt's progress every few seconds.
        """
        return dlt.pipeline(
            pipeline_name=self.name,
            destination=postgres(credentials=warehouse.url()) if warehouse else postgres(),
            dataset_name=self.dataset,
            pipelines_dir=str(pipelines_dir or platform_paths().dlt_dir),
            progress=dlt.progress.log(log_period=10, dump_system_stats=False)
            if progress == "log"
            else progress,
        )


def missing_setting_message(load: str, key: str, *, secret: bool = False) -> str:
    """One line naming the variable and the file where a missing setting of a load goes."""
    variable = f"SOURCES__{load.upper()}__{key.upper()}"
    where = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
    return (
        f"{load}: no {key} configured: set {variable} or add {key} to [sources.{load}] in {where}"
    )


def explain_configuration_error(error: ConfigFieldMissingException) -> str:
    """dlt's many-line report of missing configuration as one line naming the first setting."""
    field, traces = next(iter(error.traces.items()))
    lookups = list(_lookups(traces))
    secret = any(trace.provider == "secrets.toml" for trace in lookups)
    for trace in lookups:
        if len(trace.sections) >= 2 and trace.sections[0] == "sources":
            return missing_setting_message(trace.sections[1], field, secret=secret)
    return f"no {field} configured ({error.spec_name})"


def explain_failure(load: Load, error: BaseException) -> str:
    """Any error a load raised as one line: what failed, and the setting to check when the
    cause says which (the traceback stays in the logs for whoever needs it)."""
    cause = _innermost(error)
    if isinstance(cause, ConfigFieldMissingException):
        return explain_configuration_error(cause)
    if isinstance(cause, InvalidNativeValue):
        key = cause.embedded_sections[-1] if cause.embedded_sections else "a setting"
        return (
            f"{load.name}: {key} is not valid ({cause.spec.__name__} expected): check "
            f"SOURCES__{load.name.upper()}__{key.upper()}"
        )
    if isinstance(cause, LoadConfigurationError | SourceError | LoadBusy):
        return str(cause)
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if isinstance(cause, requests.ConnectionError | ConnectionError):
        return (
            f"{load.name}: cannot reach the source ({text[:200]}): check its URL and that it runs"
        )
    return f"{load.name}: {type(cause).__name__}: {text[:300]}"


def _innermost(error: BaseException) -> BaseException:
    """The first cause of ``error`` that is not a wrapper of dlt's (a step or a resource that
    failed because of something else)."""
    seen: set[int] = set()
    current = error
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "exception", None) or current.__cause__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def _lookups(traces: Sequence[Any]) -> Iterator[LookupTrace]:
    for trace in traces:
        if isinstance(trace, LookupTrace):
            yield trace
        elif isinstance(trace, LookupTraces):
            for nested in trace.traces.values():
                yield from _lookups(nested)


def run(
    pipeline: dlt.Pipeline,
    source: DltSource,
    say: Callable[[str], None] = log.info,
    loader_file_format: str = LOADER_FILE_FORMAT,
) -> LoadInfo:
    """Run ``pipeline`` on ``source`` the fast way, raising if any load job failed.

    A load that died half way leaves packages behind, and dlt's ``run`` would finish them. It is
    not safe to: a ``COPY`` that committed before dlt recorded it would be copied again. So they
    are aborted with dlt's ``abort_packages`` (nothing of them counts as loaded, the pipeline's
    state goes back to before them) and the source is read again, as Dagster's loads do
    (dagster-dlt drops a pipeline's local state before each run). That is safe because every
    load is idempotent: tables merge on their keys, files by file, and a file counts as read
    only once its load is complete.
    """
    remove_abandoned_extracts(pipeline, say)
    if pipeline.has_pending_data:
        say(
            f"{pipeline.pipeline_name}: an earlier run left a load half done: abandoning it and "
            "reading the source again"
        )
        pipeline.abort_packages()
    info = pipeline.run(source, loader_file_format=loader_file_format)
    info.raise_on_failed_jobs()
    return info


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is one that can pass by itself: a dlt transient
    exception, a lost database connection, a network error. The database's own answer (a
    constraint violated, a value refused, a bad statement) is never transient, even where dlt
    retries it: the Postgres ``COPY`` job reports any error as a retry."""
    chain = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    if any(isinstance(link, psycopg2.Error) for link in chain):
        return any(isinstance(link, psycopg2.OperationalError) for link in chain)
    return any(isinstance(link, TransientException | ConnectionError) for link in chain)


def remove_abandoned_extracts(pipeline: dlt.Pipeline, say: Callable[[str], None]) -> None:
    """Delete the folders an extract killed half way left in the pipeline's working folder.

    dlt extracts into ``normalize/<random id>/`` and moves the package to ``extracted/`` when it
    is complete, so such a folder is never read again; dlt does not delete it. Run only while
    holding the load's lock (:func:`exclusive_load`): no other extract of this pipeline runs.
    """
    normalize = Path(pipeline.working_dir) / "normalize"
    if not normalize.is_dir():
        return
    for folder in normalize.iterdir():
        if folder.is_dir() and folder.name != "extracted":
            size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            say(
                f"{pipeline.pipeline_name}: removed {size / 1e6:,.1f} MB an interrupted extract "
                f"left in {folder}"
            )


class LoadBusy(RuntimeError):
    """Another process runs the same load; the message names it."""


@contextmanager
def exclusive_load(
    load: Load,
    warehouse: WarehouseSettings,
    *,
    wait: bool = True,
    say: Callable[[str], None] = log.info,
) -> Iterator[None]:
    """Hold the warehouse's lock on ``load`` while it runs: two runs of one load never overlap,
    whatever starts them (the command line, Dagster, another machine).

    The lock is a PostgreSQL advisory lock held by a connection of its own, so it goes with the
    process holding it, however that process ends. Without ``wait``, a held lock raises
    :class:`LoadBusy` at once; with it, one line says who holds it, then the load waits.
    """
    from warehouse.connection import connect

    key = zlib.crc32(f"dlt load {load.dataset}".encode()) & 0x7FFFFFFF
    conn = connect(warehouse)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            me = f"dlt load {load.name}: pid {os.getpid()} on {socket.gethostname()}"
            cursor.execute("select set_config('application_name', %s, false)", (me[:63],))
            said = False
            while True:
                cursor.execute("select pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, key))
                if cursor.fetchone()[0]:
                    break
                holder = _lock_holder(cursor, key)
                if not wait:
                    raise LoadBusy(f"another {load.name} load runs ({holder}): not starting one")
                if not said:
                    say(f"another {load.name} load runs ({holder}): waiting for it to finish")
                    said = True
                time.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        conn.close()


def _lock_holder(cursor: Any, key: int) -> str:
    cursor.execute(
        """
        select activity.application_name, activity.backend_start
        from pg_locks as locks
        join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted
          and locks.classid = %s and locks.objid = %s and locks.objsubid = 2
        """,
        (LOCK_NAMESPACE, key),
    )
    row = cursor.fetchone()
    if row is None:
        return "it just finished"
    name, since = row
    if since is None:
        # Another user's session: only its own user (or pg_read_all_stats) sees its details.
        return "held by another database user"
    return f"{name or 'unnamed'}, since {since:%Y-%m-%d %H:%M:%S %Z}"


def extracted_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows extracted per table in the pipeline's last run, dlt's own tables left out (none
    when the last run extracted nothing).

    Read from the extract step: dlt's normalize counts for CSV files written from Python rows
    count cells, not rows (dlt-hub/dlt#4461).
    """
    info = pipeline.last_trace.last_extract_info if pipeline.last_trace else None
    if info is None:
        return {}
    counts: dict[str, int] = {}
    for metrics in info.metrics.values():
        for load_metrics in metrics:
            for table, table_metrics in load_metrics["table_metrics"].items():
                if not table.startswith("_dlt"):
                    counts[table] = counts.get(table, 0) + table_metrics.items_count
    return counts


def count_rows(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, int]:
    """Rows in each of ``tables`` of the pipeline's dataset; a table not created yet has none."""
    counts = dict.fromkeys(tables, 0)
    with pipeline.sql_client() as client:
        existing = {
            name
            for (name,) in client.execute_sql(
                "select table_name from information_schema.tables where table_schema = %s",
                client.dataset_name,
            )
        }
        for table in tables:
            if table in existing:
                qualified = client.make_qualified_table_name(table)
                counts[table] = client.execute_sql(f"select count(*) from {qualified}")[0][0]
    return counts
