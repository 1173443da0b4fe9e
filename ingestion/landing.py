"""Files dropped in the landing folder into ``raw_events``, with dlt's ``filesystem`` source.

The landing folder is ``data/landing`` by default and any fsspec URL by configuration
(``[sources.landing] bucket_url = "s3://bucket/landing"`` in ``.dlt/config.toml``, or
``SOURCES__LANDING__BUCKET_URL``; credentials in the ignored secrets file or the environment).

- ``events/YYYY-MM-DD.jsonl.gz``: web events, appended to ``raw_events.events`` with the file
  and line they came from (``_file_name``, ``_line_number``). Duplicates and unknown event
  types are loaded as delivered; staging deduplicates and flags them.
- ``marketing/YYYY-MM-DD.csv``: spend per channel and campaign, merged into
  ``raw_events.marketing_spend`` on ``(date, channel, campaign)``.

**Exactly once.** Each file is read once: the names of loaded files (and their modification
times) are kept in dlt's resource state, which is committed together with the rows. A file
whose modification time changes after it was loaded is reported and not loaded again: landing
files are immutable.

**Reloading days.** ``reload_days`` (``YYYY-MM-DD`` strings) reads those days' files again even
though they were loaded: :func:`forget_days` first deletes the rows and rejected lines they
left in raw, so a reload replaces a day instead of doubling it. Dagster's daily partitions of
the landing tables use this for backfills.

**Schema contract** (dlt's ``evolve`` everywhere, with declared types for the known columns):

- a new field or CSV column becomes a new raw column (the marketing CSV's ``currency`` drift);
- a value that does not fit its column's type is kept, in a dlt variant column such as
  ``spend__v_text``, never dropped;
- ``occurred_at`` is kept as the text delivered, since files carry more than one timestamp
  format; staging parses it;
- a line that is not a JSON object, lacks a required field or has the wrong number of CSV
  fields goes to ``raw_events._rejected_lines`` (file, line number, raw text, reason);
- a file that cannot be read at all (a broken gzip stream, bad encoding) is reported by name
  in ``raw_events._rejected_files`` and skipped without blocking the other files. It is not
  marked as loaded, so every run tries it again and loads it once it is fixed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
from dlt.sources import DltSource
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion.pipelines import warehouse_pipeline
from warehouse.settings import WarehouseSettings

log = logging.getLogger(__name__)

DATASET_NAME = "raw_events"
EVENTS, MARKETING = "events", "marketing"
EVENT_FILES = "events/*.jsonl.gz"
MARKETING_FILES = "marketing/*.csv"
REJECTED_LINES = "_rejected_lines"
REJECTED_FILES = "_rejected_files"

EVENT_FIELDS = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("occurred_at", pa.string()),
        ("session_id", pa.string()),
        ("user_id", pa.int64()),
        (
            "properties",
            pa.struct(
                [
                    ("path", pa.string()),
                    ("product_id", pa.int64()),
                    ("quantity", pa.int64()),
                    ("cart_value", pa.float64()),
                    ("order_id", pa.int64()),
                ]
            ),
        ),
    ]
)
"""The fields events have, with the types raw keeps, so every file reads the same way. Fields
and properties not listed here are read too, with types inferred from the file."""
REQUIRED_EVENT_FIELDS = ("event_id", "event_type", "occurred_at")

MARKETING_FIELDS = ("date", "channel", "campaign", "spend", "impressions", "clicks")
MARKETING_COLUMNS = {
    "date": {"data_type": "date"},
    "channel": {"data_type": "text"},
    "campaign": {"data_type": "text"},
    "spend": {"data_type": "decimal"},
    "impressions": {"data_type": "bigint"},
    "clicks": {"data_type": "bigint"},
    "_file_name": {"data_type": "text"},
    "_line_number": {"data_type": "bigint"},
}

REJECTED_LINE_COLUMNS = {
    "file_name": {"data_type": "text"},
    "line_number": {"data_type": "bigint"},
    "raw_line": {"data_type": "text"},
    "reason": {"data_type": "text"},
}
REJECTED_FILE_COLUMNS = {
    "file_name": {"data_type": "text"},
    "modification_date": {"data_type": "timestamp"},
    "reason": {"data_type": "text"},
}


class UnreadableFile(ValueError):
    """A landing file whose bytes cannot be decoded at all."""


@dataclass
class LandingFile:
    """One new landing file, parsed: its rows, the lines set aside, or why it was unreadable."""

    name: str
    kind: str
    rows: Any = None
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    rejected_file: dict[str, Any] | None = None


@dlt.source(name="landing")
def landing_source(
    bucket_url: str = dlt.config.value, file_glob: str = "*/*", reload_days: Sequence[str] = ()
) -> Any:
    """The event files and marketing CSVs in ``bucket_url``, each file read once, those of
    ``reload_days`` read again.

    One listing feeds four tables: dlt forks the parsed files to a transformer per table, so
    each file is read once and its rows, rejected lines and rejection land in one load.
    """
    files = filesystem(bucket_url=bucket_url, file_glob=file_glob) | dlt.transformer(
        name="landing_files"
    )(read_new_files)(reload_days=tuple(reload_days))
    return (
        files | dlt.transformer(name="events", write_disposition="append")(_rows_of(EVENTS)),
        files
        | dlt.transformer(
            name="marketing_spend",
            write_disposition="merge",
            primary_key=("date", "channel", "campaign"),
            columns=MARKETING_COLUMNS,
        )(_rows_of(MARKETING)),
        files
        | dlt.transformer(
            name=REJECTED_LINES, write_disposition="append", columns=REJECTED_LINE_COLUMNS
        )(_rejected_lines),
        files
        | dlt.transformer(
            name=REJECTED_FILES, write_disposition="append", columns=REJECTED_FILE_COLUMNS
        )(_rejected_files),
    )


def landing_bucket_url(settings: WarehouseSettings) -> str:
    """The configured bucket (``[sources.landing] bucket_url``), else the landing folder."""
    configured = dlt.config.get("sources.landing.bucket_url", str)
    return configured or (settings.data_dir / "landing").as_uri()


def landing(
    settings: WarehouseSettings, file_glob: str = "*/*", reload_days: Sequence[str] = ()
) -> DltSource:
    """:func:`landing_source` on :func:`landing_bucket_url`."""
    return landing_source(
        bucket_url=landing_bucket_url(settings), file_glob=file_glob, reload_days=reload_days
    )


def day_of(file_name: str) -> str:
    """The day a landing file is for: ``events/2026-01-05.jsonl.gz`` -> ``2026-01-05``."""
    return file_name.rsplit("/", 1)[-1][:10]


def forget_days(pipeline: dlt.Pipeline, days: Sequence[str]) -> None:
    """Delete what the files of ``days`` left in the append tables, before reloading them.

    ``marketing_spend`` is merged on its key, so a reload replaces its rows by itself.
    """
    patterns = [f"%/{day}%" for day in days]
    with pipeline.sql_client() as client:
        for table, column in (("events", "_file_name"), (REJECTED_LINES, "file_name")):
            if client.has_dataset() and _table_exists(client, table):
                client.execute_sql(
                    f"delete from {client.make_qualified_table_name(table)}"
                    f" where {column} like any(%s)",
                    patterns,
                )


def _table_exists(client: Any, table: str) -> bool:
    rows = client.execute_sql(
        "select 1 from information_schema.tables where table_schema = %s and table_name = %s",
        client.dataset_name,
        table,
    )
    return bool(rows)


def list_landing_files(settings: WarehouseSettings, file_glob: str = "*/*") -> list[FileItemDict]:
    """The files in the landing bucket, listed exactly as a load lists them (name, mtime, size)."""
    return list(filesystem(bucket_url=landing_bucket_url(settings), file_glob=file_glob))


def landing_pipeline(settings: WarehouseSettings, progress: str | None = None) -> dlt.Pipeline:
    """The pipeline that loads :func:`landing` into ``raw_events``."""
    return warehouse_pipeline("landing", DATASET_NAME, settings, progress)


def read_new_files(
    files: Iterable[FileItemDict], reload_days: tuple[str, ...] = ()
) -> Iterator[LandingFile]:
    """Each landing file not loaded before (or of ``reload_days``), parsed; other files in the
    folder are ignored."""
    loaded = dlt.current.resource_state().setdefault("loaded_files", {})
    for file in sorted(files, key=lambda item: item["relative_path"]):
        name, modified = file["relative_path"], file["modification_date"].isoformat()
        kind = _kind(name)
        if kind is None:
            continue
        if name in loaded and day_of(name) not in reload_days:
            if loaded[name] != modified:
                log.warning(
                    "%s changed after it was loaded (at %s, now %s): not loading it again",
                    name,
                    loaded[name],
                    modified,
                )
            continue
        parsed = LandingFile(name, kind)
        try:
            content = _read(file, gzipped=kind == EVENTS)
            if kind == EVENTS:
                parsed.rows, rejected = parse_event_lines(content, name)
            else:
                parsed.rows, rejected = parse_marketing_csv(content, name)
        except UnreadableFile as error:
            log.error("%s skipped: %s. It is tried again on every run until it loads.", name, error)
            parsed.rejected_file = {
                "file_name": name,
                "modification_date": file["modification_date"],
                "reason": str(error),
            }
            yield parsed
            continue
        parsed.rejected_lines = [
            {"file_name": name, "line_number": number, "raw_line": text, "reason": reason}
            for number, text, reason in rejected
        ]
        if rejected:
            log.warning(
                "%s: %d rows loaded, %d lines rejected (see %s.%s)",
                name,
                _row_count(parsed.rows),
                len(rejected),
                DATASET_NAME,
                REJECTED_LINES,
            )
        # Committed with the rows: a load that fails leaves the file to be read again.
        loaded[name] = modified
        yield parsed


def _kind(name: str) -> str | None:
    if fnmatch(name, EVENT_FILES):
        return EVENTS
    if fnmatch(name, MARKETING_FILES):
        return MARKETING
    return None


def _rows_of(kind: str) -> Callable[[LandingFile], Iterator[Any]]:
    def rows(parsed: LandingFile) -> Iterator[Any]:
        if parsed.kind == kind and parsed.rows is not None and _row_count(parsed.rows):
            yield parsed.rows

    rows.__name__ = f"{kind}_rows"
    return rows


def _rejected_lines(parsed: LandingFile) -> Iterator[list[dict[str, Any]]]:
    if parsed.rejected_lines:
        yield parsed.rejected_lines


def _rejected_files(parsed: LandingFile) -> Iterator[dict[str, Any]]:
    if parsed.rejected_file:
        yield parsed.rejected_file


def parse_event_lines(
    content: bytes, file_name: str
) -> tuple[pa.Table | None, list[tuple[int, str, str]]]:
    """The events in a JSON-lines file, and its rejected lines as (line number, text, reason).

    Arrow parses a whole clean file at once. If it cannot, the file is split into lines and each
    is checked on its own, so one bad line costs only itself.
    """
    if not content.strip():
        return None, []
    line_count = content.count(b"\n") + (not content.endswith(b"\n"))
    try:
        table = _read_json(content)
    except pa.ArrowInvalid:
        table = None
    if table is not None and table.num_rows == line_count and _has_required_fields(table):
        line_numbers = np.arange(1, line_count + 1, dtype=np.int64)
        return _with_origin(table, file_name, line_numbers), []

    good_lines, line_numbers, rejected = [], [], []
    for number, line in enumerate(content.split(b"\n"), start=1):
        if not line.strip():
            continue
        reason = _event_line_problem(line)
        if reason:
            rejected.append((number, line.decode("utf-8", errors="replace"), reason))
        else:
            good_lines.append(line)
            line_numbers.append(number)
    if not good_lines:
        return None, rejected
    try:
        table = _read_json(b"\n".join(good_lines))
    except pa.ArrowInvalid:
        # Some line has a value of another type than raw keeps (say a text user_id): find
        # those lines one by one. Slow, and only ever for a file that needs it.
        good_lines, line_numbers, rejected = _type_checked(good_lines, line_numbers, rejected)
        if not good_lines:
            return None, rejected
        table = _read_json(b"\n".join(good_lines))
    return _with_origin(table, file_name, np.array(line_numbers, dtype=np.int64)), rejected


def _type_checked(
    lines: list[bytes], line_numbers: list[int], rejected: list[tuple[int, str, str]]
) -> tuple[list[bytes], list[int], list[tuple[int, str, str]]]:
    good_lines, good_numbers = [], []
    for line, number in zip(lines, line_numbers, strict=True):
        try:
            _read_json(line)
        except pa.ArrowInvalid as error:
            reason = f"a field has an unexpected type: {error}"
            rejected.append((number, line.decode("utf-8", errors="replace"), reason))
        else:
            good_lines.append(line)
            good_numbers.append(number)
    return good_lines, good_numbers, sorted(rejected)


def parse_marketing_csv(
    content: bytes, file_name: str
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """The rows of a marketing CSV as dicts of strings, and its rejected lines."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text: {error}") from None
    lines = text.splitlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return [], []
    missing = [field for field in MARKETING_FIELDS if field not in header]
    if missing:
        raise UnreadableFile(f"header lacks {', '.join(missing)}: {','.join(header)}")
    rows, rejected = [], []
    for number, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(fields) != len(header):
            rejected.append(
                (
                    number,
                    lines[number - 1],
                    f"{len(fields)} fields where the header has {len(header)}",
                )
            )
            continue
        row: dict[str, Any] = dict(zip(header, fields, strict=True))
        row["_file_name"], row["_line_number"] = file_name, number
        rows.append(row)
    return rows, rejected


def _read(file: FileItemDict, *, gzipped: bool) -> bytes:
    try:
        content = file.read_bytes()
        return gzip.decompress(content) if gzipped else content
    except (OSError, EOFError, zlib.error) as error:
        raise UnreadableFile(f"cannot read the file: {error}") from None


def _read_json(content: bytes) -> pa.Table:
    return pa_json.read_json(
        io.BytesIO(content),
        parse_options=pa_json.ParseOptions(
            explicit_schema=EVENT_FIELDS, unexpected_field_behavior="infer"
        ),
    )


def _has_required_fields(table: pa.Table) -> bool:
    return all(
        name in table.column_names and table[name].null_count == 0 for name in REQUIRED_EVENT_FIELDS
    )


def _event_line_problem(line: bytes) -> str | None:
    try:
        event = json.loads(line)
    except ValueError as error:
        return f"not valid JSON: {error}"
    if not isinstance(event, dict):
        return "not a JSON object"
    missing = [field for field in REQUIRED_EVENT_FIELDS if event.get(field) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    return None


def _with_origin(table: pa.Table, file_name: str, line_numbers: np.ndarray) -> pa.Table:
    """``table`` with nested objects flattened the way dlt flattens JSON (``properties__path``),
    and the file and line each row came from."""
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    table = table.rename_columns([name.replace(".", "__") for name in table.column_names])
    return table.append_column("_file_name", pa.array([file_name] * table.num_rows)).append_column(
        "_line_number", pa.array(line_numbers)
    )


def _row_count(events: pa.Table | list | None) -> int:
    if events is None:
        return 0
    return events.num_rows if isinstance(events, pa.Table) else len(events)
