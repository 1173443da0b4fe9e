"""Files dropped in a bucket into ``raw_<name>``, with dlt's ``filesystem`` source.

Configured under ``[sources.<name>]``:

- ``bucket_url``: a local folder (relative to the project) or any fsspec URL such as
  ``s3://bucket/incoming`` (credentials in the ignored secrets file or the environment);
- ``[sources.<name>.files.<table>]``: one kind of file per raw table, with its ``glob`` (relative
  to the bucket; ``.gz`` files are gunzipped), its ``format`` (``jsonl`` or ``csv``), the fields
  every line must have (``required``: for CSV, the header must name them), the ``columns`` raw
  keeps with a declared type (dlt's type names; ``a.b`` names a field nested in ``a``), and a
  ``primary_key`` to merge on (without one, rows are appended with the file and line they came
  from, ``_file_name`` and ``_line_number``).

**Exactly once.** Each file is read once. ``_loaded_files`` records every file read, with its
modification time and how many lines it had, how many became rows and how many were rejected;
the record is written by the same load as the rows, and a file counts as loaded only once that
load is complete (it is in ``_dlt_loads``). Rows are never appended blindly: every table is
merged by file (dlt's ``delete-insert`` with ``_file_name`` as merge key, in one transaction), so
a file read again after a load died half way, or reloaded on purpose, replaces what it left
instead of doubling it. A file whose modification time changes after it was loaded is reported
and not loaded again: files are immutable once delivered.

**Reloading days.** :meth:`FilesLoad.reload_source` reads the files of given days again (the
day is the first ``YYYY-MM-DD`` in a file's name); by the merge above, they replace their own
rows, rejected lines and records. Dagster's daily partitions of the file tables use this for
backfills.

**Schema contract** (dlt's ``evolve`` everywhere, with declared types for the known columns):

- a new field or CSV column becomes a new raw column; a JSON field nobody declared is kept as
  text (a nested list or object as its JSON text), so files never disagree on its type;
- a CSV value that does not fit its column's type is kept, in a dlt variant column
  (``<column>__v_text``), never dropped;
- a line that is not valid UTF-8 or JSON, is not an object, lacks a required field, has a field
  of the wrong type or the wrong number of CSV fields goes to ``_rejected_lines`` (file, line
  number, the line as text with undecodable bytes escaped as ``\\xNN``, reason); lines of any
  length are read;
- a file that cannot be read at all (a broken gzip stream, bad encoding) or whose rows cannot be
  written to the warehouse is recorded in ``_rejected_files`` with the reason, one row per file
  and only while it stays unreadable, and skipped without blocking the other files. It is not
  recorded as loaded, so every run tries it again and loads it once it is fixed.

**Reconciliation**, per file: the lines read equal the rows loaded plus the lines rejected.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import dlt
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltResource, DltSource
from dlt.sources.filesystem import FileItemDict, filesystem

from ingestion.load import Load, LoadConfigurationError, Reconciliation, SourceSystem

log = logging.getLogger(__name__)

REJECTED_LINES = "_rejected_lines"
REJECTED_FILES = "_rejected_files"
LOADED_FILES = "_loaded_files"
BOOKKEEPING_TABLES = (REJECTED_LINES, REJECTED_FILES, LOADED_FILES)
FORMATS = ("jsonl", "csv")
DAY_IN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
BOM = b"\xef\xbb\xbf"
ARROW_BLOCK_SIZE = 1 << 20
"""Arrow's JSON reader reads blocks of this size; a longer line needs a larger block."""

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
"""dlt type names a JSON-lines column may declare, and how Arrow reads them."""

MERGED_BY_FILE = {"disposition": "merge", "strategy": "delete-insert"}
"""Rows of a file replace that file's rows: a file read twice never doubles."""
SUPERSEDED = "_superseded"
"""The hard-delete flag of the marker each read file sends to a table merged by file: it clears
what an earlier read of the file left there, and is never stored itself."""
REJECTED_LINE_COLUMNS = {
    "file_name": {"data_type": "text", "nullable": False, "merge_key": True},
    "line_number": {"data_type": "bigint"},
    "raw_line": {"data_type": "text"},
    "reason": {"data_type": "text"},
    SUPERSEDED: {"data_type": "bool", "hard_delete": True},
}
REJECTED_FILE_COLUMNS = {
    "file_name": {"data_type": "text", "nullable": False},
    "modification_date": {"data_type": "timestamp"},
    "reason": {"data_type": "text"},
    SUPERSEDED: {"data_type": "bool", "hard_delete": True},
}
LOADED_FILE_COLUMNS = {
    "file_name": {"data_type": "text", "nullable": False},
    "table_name": {"data_type": "text"},
    "modification_date": {"data_type": "timestamp"},
    "line_count": {"data_type": "bigint"},
    "row_count": {"data_type": "bigint"},
    "rejected_line_count": {"data_type": "bigint"},
}


class UnreadableFile(ValueError):
    """A file whose bytes cannot be decoded at all."""


@dataclass(frozen=True)
class FileKind:
    """One kind of file in the bucket, loaded into one raw table."""

    table: str
    glob: str
    format: str
    required: tuple[str, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, table: str, options: Mapping[str, Any]) -> FileKind:
        if not options.get("glob"):
            raise LoadConfigurationError(f"files of table {table!r} need a glob")
        if options.get("format") not in FORMATS:
            raise LoadConfigurationError(
                f"files of table {table!r} need a format: one of {', '.join(FORMATS)}"
            )
        columns = dict(options.get("columns") or {})
        if options["format"] == "jsonl":
            unknown = sorted({kind for kind in columns.values() if kind not in ARROW_TYPES})
            if unknown:
                raise LoadConfigurationError(
                    f"columns of table {table!r} have types JSON lines cannot declare: "
                    f"{', '.join(unknown)} (use one of {', '.join(ARROW_TYPES)})"
                )
        key = options.get("primary_key") or ()
        return cls(
            table=table,
            glob=options["glob"],
            format=options["format"],
            required=tuple(options.get("required") or ()),
            columns=columns,
            primary_key=(key,) if isinstance(key, str) else tuple(key),
        )

    @property
    def gzipped(self) -> bool:
        return self.glob.endswith(".gz")

    def matches(self, file_name: str) -> bool:
        return fnmatch(file_name, self.glob)

    def dlt_columns(self) -> dict[str, dict[str, Any]]:
        """The declared columns as dlt hints (nested names flattened the way dlt does), plus
        where each row came from."""
        return {
            **{name.replace(".", "__"): {"data_type": kind} for name, kind in self.columns.items()},
            "_file_name": {
                "data_type": "text",
                "nullable": False,
                **({} if self.primary_key else {"merge_key": True}),
            },
            "_line_number": {"data_type": "bigint"},
        }

    def declared_names(self) -> set[str]:
        """The declared columns as raw names (``a.b`` is ``a__b``)."""
        return {name.replace(".", "__") for name in self.columns}

    def arrow_schema(self) -> pa.Schema:
        """The declared columns as an Arrow schema for the JSON reader: ``a.b`` is field ``b``
        of a struct ``a``."""
        tree: dict[str, Any] = {}
        for name, kind in self.columns.items():
            *parents, leaf = name.split(".")
            node = tree
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = ARROW_TYPES[kind]

        def to_fields(node: Mapping[str, Any]) -> list[pa.Field]:
            return [
                pa.field(key, pa.struct(to_fields(value)) if isinstance(value, dict) else value)
                for key, value in node.items()
            ]

        return pa.schema(to_fields(tree))


@dataclass
class ParsedFile:
    """One file read from the bucket: its rows, the lines set aside, or why it was unreadable."""

    name: str
    kind: FileKind
    modification_date: Any
    line_count: int = 0
    rows: Any = None
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    rejected_file: dict[str, Any] | None = None

    @property
    def row_count(self) -> int:
        return _row_count(self.rows)


@dlt.source
def files_source(
    bucket_url: str = dlt.config.value,
    files: dict[str, Any] = dlt.config.value,
    reload_days: Sequence[str] = (),
) -> Iterator[DltResource]:
    """The files in ``bucket_url``, each new file read once, those of ``reload_days`` again.

    One listing feeds every table: dlt forks the parsed files to a transformer per table, so
    each file is read once and its rows, rejected lines and record land in one load.
    """
    kinds = file_kinds(files)
    parsed = filesystem(bucket_url=bucket_url, file_glob="**/*") | dlt.transformer(
        name="read_files"
    )(read_new_files)(kinds=tuple(kinds), reload_days=tuple(reload_days))
    for kind in kinds:
        yield parsed | dlt.transformer(
            name=kind.table,
            write_disposition="merge" if kind.primary_key else MERGED_BY_FILE,
            primary_key=kind.primary_key or None,
            columns=kind.dlt_columns(),
        )(_rows_of(kind.table))
    yield parsed | dlt.transformer(
        name=REJECTED_LINES, write_disposition=MERGED_BY_FILE, columns=REJECTED_LINE_COLUMNS
    )(_rejected_lines)
    yield parsed | dlt.transformer(
        name=REJECTED_FILES,
        write_disposition="merge",
        primary_key="file_name",
        columns=REJECTED_FILE_COLUMNS,
    )(_rejected_files)
    yield parsed | dlt.transformer(
        name=LOADED_FILES,
        write_disposition="merge",
        primary_key="file_name",
        columns=LOADED_FILE_COLUMNS,
    )(_loaded_files)


def file_kinds(files: Mapping[str, Any]) -> list[FileKind]:
    """The configured kinds of file, one per raw table."""
    if not files:
        raise LoadConfigurationError("no kinds of file configured under files")
    return [FileKind.from_config(table, options) for table, options in files.items()]


def day_of(file_name: str) -> str | None:
    """The day a file is for, the first ``YYYY-MM-DD`` in its name: ``a/2024-03-05.csv`` ->
    ``2024-03-05``."""
    match = DAY_IN_NAME.search(file_name)
    return match.group() if match else None


def read_new_files(
    listing: Iterable[FileItemDict],
    kinds: tuple[FileKind, ...] = (),
    reload_days: tuple[str, ...] = (),
) -> Iterator[ParsedFile]:
    """Each file not loaded before (or of ``reload_days``), parsed; files that match no kind are
    ignored."""
    loaded = _loaded_modification_dates()
    for file in sorted(listing, key=lambda item: item["relative_path"]):
        name, modified = file["relative_path"], file["modification_date"]
        kind = next((kind for kind in kinds if kind.matches(name)), None)
        if kind is None:
            continue
        if name in loaded and day_of(name) not in reload_days:
            if loaded[name] != modified:
                log.warning(
                    "%s changed after it was loaded (at %s, now %s): not loading it again",
                    name,
                    loaded[name].isoformat(),
                    modified.isoformat(),
                )
            continue
        yield parse_file(name, kind, modified, file.read_bytes)


def parse_file(
    name: str, kind: FileKind, modified: Any, read_bytes: Callable[[], bytes]
) -> ParsedFile:
    """A file's rows and rejected lines, or the reason it cannot be read at all."""
    parsed = ParsedFile(name, kind, modified)
    try:
        content = _read(read_bytes, gzipped=kind.gzipped)
        if kind.format == "jsonl":
            parsed.rows, rejected = parse_json_lines(content, name, kind)
            # Every line that holds anything is a row or a rejected line.
            parsed.line_count = _row_count(parsed.rows) + len(rejected)
        else:
            parsed.line_count = max(count_lines(content) - 1, 0)
            parsed.rows, rejected = parse_csv(content, name, kind)
        _check_writable(parsed.rows)
    except UnreadableFile as error:
        log.error("%s skipped: %s. It is tried again on every run until it loads.", name, error)
        parsed.rejected_file = {
            "file_name": name,
            "modification_date": modified,
            "reason": str(error),
        }
        return parsed
    parsed.rejected_lines = [
        {"file_name": name, "line_number": number, "raw_line": text, "reason": reason}
        for number, text, reason in rejected
    ]
    if rejected:
        log.warning(
            "%s: %d rows read, %d lines set aside in %s",
            name,
            parsed.row_count,
            len(rejected),
            REJECTED_LINES,
        )
    return parsed


def _check_writable(rows: pa.Table | list | None) -> None:
    """Refuse, as unreadable, a file whose rows the warehouse's load files could not hold: one
    bad file must never stop the others in the same load."""
    if not isinstance(rows, pa.Table) or not rows.num_rows:
        return
    try:
        pa_csv.write_csv(rows.slice(0, 1), io.BytesIO())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise UnreadableFile(f"its rows cannot be written to the warehouse: {error}") from None


def _loaded_modification_dates() -> dict[str, Any]:
    """The files recorded in ``_loaded_files`` by completed loads, with their modification time
    when read, from the running pipeline's destination."""
    with dlt.current.pipeline().sql_client() as client:
        ledger = client.make_qualified_table_name(LOADED_FILES)
        loads = client.make_qualified_table_name("_dlt_loads")
        try:
            rows = client.execute_sql(
                f"select ledger.file_name, ledger.modification_date from {ledger} as ledger"
                f" join {loads} as loads on loads.load_id = ledger._dlt_load_id"
                " where loads.status = 0"
            )
        except DatabaseUndefinedRelation:
            return {}
    return dict(rows)


def _rows_of(table: str) -> Callable[[ParsedFile], Iterator[Any]]:
    def rows(parsed: ParsedFile) -> Iterator[Any]:
        if parsed.kind.table == table and parsed.row_count:
            yield parsed.rows

    rows.__name__ = f"{table}_rows"
    return rows


def _rejected_lines(parsed: ParsedFile) -> Iterator[list[dict[str, Any]]]:
    """The file's rejected lines, after a marker clearing what an earlier read left."""
    if not parsed.rejected_file:
        yield [{"file_name": parsed.name, SUPERSEDED: True}, *parsed.rejected_lines]


def _rejected_files(parsed: ParsedFile) -> Iterator[dict[str, Any]]:
    """The file's row while it is unreadable; once it reads, a marker deleting that row."""
    yield parsed.rejected_file or {"file_name": parsed.name, SUPERSEDED: True}


def _loaded_files(parsed: ParsedFile) -> Iterator[dict[str, Any]]:
    if not parsed.rejected_file:
        yield {
            "file_name": parsed.name,
            "table_name": parsed.kind.table,
            "modification_date": parsed.modification_date,
            "line_count": parsed.line_count,
            "row_count": parsed.row_count,
            "rejected_line_count": len(parsed.rejected_lines),
        }


def count_lines(content: bytes) -> int:
    """The lines of a text file that hold anything but white space (a byte-order mark is not a
    line's content)."""
    return sum(1 for line in content.removeprefix(BOM).split(b"\n") if line.strip())


def parse_json_lines(
    content: bytes, file_name: str, kind: FileKind
) -> tuple[pa.Table | None, list[tuple[int, str, str]]]:
    """The rows of a JSON-lines file, and its rejected lines as (line number, text, reason).

    Arrow parses a whole clean file at once. If it cannot, the file is split into lines and each
    is checked on its own, so one bad line costs only itself.
    """
    content = content.removeprefix(BOM)
    if not content.strip():
        return None, []
    schema = kind.arrow_schema()
    line_count = content.count(b"\n") + (not content.endswith(b"\n"))
    try:
        # Arrow's JSON reader does not check the encoding: text that is not UTF-8 would reach
        # the warehouse's COPY and fail the whole load.
        content.decode("utf-8")
        table = _read_json(content, schema)
    except (UnicodeDecodeError, pa.ArrowInvalid):
        table = None
    if table is not None and table.num_rows == line_count and _has_required(table, kind):
        line_numbers = np.arange(1, line_count + 1, dtype=np.int64)
        return _with_origin(table, file_name, line_numbers, kind), []

    good_lines, line_numbers, rejected = [], [], []
    for number, line in enumerate(content.split(b"\n"), start=1):
        line = line.removesuffix(b"\r")
        if not line.strip():
            continue
        reason = _json_line_problem(line, kind.required)
        if reason:
            rejected.append((number, _as_text(line), reason))
        else:
            good_lines.append(line)
            line_numbers.append(number)
    if not good_lines:
        return None, rejected
    try:
        table = _read_json(b"\n".join(good_lines), schema)
    except pa.ArrowInvalid:
        # Some line has a value of another type than raw keeps (say a text user_id): find
        # those lines one by one. Slow, and only ever for a file that needs it.
        good_lines, line_numbers, rejected = _type_checked(
            good_lines, line_numbers, rejected, schema
        )
        if not good_lines:
            return None, rejected
        table = _read_json(b"\n".join(good_lines), schema)
    line_numbers_array = np.array(line_numbers, dtype=np.int64)
    return _with_origin(table, file_name, line_numbers_array, kind), rejected


def _as_text(line: bytes) -> str:
    """A line as text, with bytes that are not UTF-8 escaped (``\\xff``), so none is lost."""
    return line.decode("utf-8", errors="backslashreplace")


def _type_checked(
    lines: list[bytes],
    line_numbers: list[int],
    rejected: list[tuple[int, str, str]],
    schema: pa.Schema,
) -> tuple[list[bytes], list[int], list[tuple[int, str, str]]]:
    good_lines, good_numbers = [], []
    for line, number in zip(lines, line_numbers, strict=True):
        try:
            _read_json(line, schema)
        except pa.ArrowInvalid as error:
            reason = f"a field has an unexpected type: {error}"
            rejected.append((number, _as_text(line), reason))
        else:
            good_lines.append(line)
            good_numbers.append(number)
    return good_lines, good_numbers, sorted(rejected)


def parse_csv(
    content: bytes, file_name: str, kind: FileKind
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """The rows of a CSV file with a header, as dicts of strings, and its rejected lines."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text: {error}") from None
    lines = text.splitlines()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return [], []
    missing = [name for name in kind.required if name not in header]
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


def _read(read_bytes: Callable[[], bytes], *, gzipped: bool) -> bytes:
    try:
        content = read_bytes()
        return gzip.decompress(content) if gzipped else content
    except (OSError, EOFError, zlib.error) as error:
        raise UnreadableFile(f"cannot read the file: {error}") from None


def _read_json(content: bytes, schema: pa.Schema) -> pa.Table:
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        return pa_json.read_json(io.BytesIO(content), parse_options=options)
    except pa.ArrowInvalid as error:
        if "straddl" not in str(error):
            raise
    # A line longer than Arrow's block: read again with blocks that hold the longest line.
    read_options = pa_json.ReadOptions(block_size=_block_size(content))
    return pa_json.read_json(io.BytesIO(content), read_options=read_options, parse_options=options)


def _block_size(content: bytes) -> int:
    """Arrow's block size for ``content``: its default, or more than the longest line, since a
    line may not straddle two blocks."""
    ends = np.flatnonzero(np.frombuffer(content, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(content)]))
    return max(ARROW_BLOCK_SIZE, int((stops - starts).max()) + 2)


def _has_required(table: pa.Table, kind: FileKind) -> bool:
    return all(name in table.column_names and table[name].null_count == 0 for name in kind.required)


def _json_line_problem(line: bytes, required: Sequence[str]) -> str | None:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not valid UTF-8: {error}"
    try:
        row = json.loads(text)
    except ValueError as error:
        return f"not valid JSON: {error}"
    if not isinstance(row, dict):
        return "not a JSON object"
    missing = [name for name in required if row.get(name) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    return None


def _with_origin(
    table: pa.Table, file_name: str, line_numbers: np.ndarray, kind: FileKind
) -> pa.Table:
    """``table`` with nested objects flattened the way dlt flattens JSON (``properties__path``),
    fields nobody declared as text, and the file and line each row came from."""
    while any(pa.types.is_struct(column.type) for column in table.schema):
        table = table.flatten()
    table = table.rename_columns([name.replace(".", "__") for name in table.column_names])
    declared = kind.declared_names()
    for index, name in enumerate(table.column_names):
        if name not in declared:
            table = table.set_column(index, name, _as_text_column(table.column(index)))
    # Never null, as the table's hints say (dlt warns at each batch whose schema differs).
    file_name_field = pa.field("_file_name", pa.string(), nullable=False)
    return table.append_column(
        file_name_field, _repeated_text(file_name, table.num_rows)
    ).append_column("_line_number", pa.array(line_numbers))


def _repeated_text(value: str, count: int) -> pa.Array:
    """``value`` ``count`` times, built in Arrow: a Python list of a million strings took
    seconds (and pyarrow imports pandas to read one)."""
    indices = pa.array(np.zeros(count, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value])).cast(pa.string())


def _as_text_column(column: pa.ChunkedArray) -> pa.Array:
    """A column nobody declared, as text: scalars as Arrow writes them, nested values (lists,
    objects) as their JSON text."""
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_nested(column.type):
        values = column.to_pylist()
        texts = [None if value is None else json.dumps(value, default=str) for value in values]
        return pa.array(texts, pa.string())
    return column.cast(pa.string())


def _row_count(rows: pa.Table | list | None) -> int:
    if rows is None:
        return 0
    return rows.num_rows if isinstance(rows, pa.Table) else len(rows)


class FilesLoad(Load):
    """Files in a bucket, one kind of file per raw table (see the module docstring)."""

    kind = "file"
    load_together = True
    daily_partitioned = True

    def source(self, **config: Any) -> DltSource:
        self._check_bucket(config.get("bucket_url"))
        return self._source(**config)

    def definitions_source(self) -> DltSource:
        return self._source()

    def _source(self, **config: Any) -> DltSource:
        return files_source.clone(name=self.name, section=self.name)(**{**self.config, **config})

    def _check_bucket(self, bucket_url: str | None = None) -> None:
        """Refuse a bucket that is not there: an empty listing would pass for "nothing new"."""
        url = bucket_url or self.setting("bucket_url")
        fs, root = fsspec.core.url_to_fs(url)
        if not fs.exists(root):
            raise LoadConfigurationError(
                f"{self.name}: the bucket {url} does not exist: create it or check "
                f"SOURCES__{self.name.upper()}__BUCKET_URL"
            )

    def file_kinds(self) -> list[FileKind]:
        return file_kinds(self.setting("files"))

    def source_systems(self) -> list[SourceSystem]:
        return [
            SourceSystem(kind.table, f"Files `{kind.glob}` in the {self.name} bucket")
            for kind in self.file_kinds()
        ]

    def reads(self, resource: str) -> list[str]:
        tables = [kind.table for kind in self.file_kinds()]
        return tables if resource in BOOKKEEPING_TABLES else [resource]

    def list_files(self) -> list[FileItemDict]:
        """The files of every configured kind in the bucket, listed exactly as a load lists
        them (name, modification time, size)."""
        kinds = self.file_kinds()
        self._check_bucket()
        return [
            file
            for file in filesystem(bucket_url=self.setting("bucket_url"), file_glob="**/*")
            if any(kind.matches(file["relative_path"]) for kind in kinds)
        ]

    def reload_source(self, pipeline: dlt.Pipeline, days: Sequence[str]) -> DltSource:
        """The files of ``days`` read again: their rows replace what they loaded before."""
        return self.source(reload_days=tuple(days))

    def days_loaded(self, pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> list[str]:
        """The days of the files the loads ``load_ids`` read (see :func:`day_of`)."""
        if not load_ids:
            return []
        with pipeline.sql_client() as client:
            if LOADED_FILES not in _existing_tables(client):
                return []
            rows = client.execute_sql(
                f"select distinct file_name from {client.make_qualified_table_name(LOADED_FILES)}"
                " where _dlt_load_id = any(%s)",
                list(load_ids),
            )
        return sorted({day for (name,) in rows if (day := day_of(name))})

    def index_raw_tables(self, pipeline: dlt.Pipeline) -> None:
        """An index on ``_dlt_load_id`` of each file table: files only ever add rows, so dbt
        reads them incrementally by load (``stg_landing__events`` reads the loads newer than
        its own), which without it scans every row ever loaded on every build."""
        with pipeline.sql_client() as client:
            existing = _existing_tables(client)
            for table in (kind.table for kind in self.file_kinds() if kind.table in existing):
                client.execute_sql(
                    f"create index if not exists {client.escape_column_name(table + '__load_id')}"
                    f" on {client.make_qualified_table_name(table)} (_dlt_load_id)"
                )

    def reconciled_tables(self) -> list[str]:
        return [kind.table for kind in self.file_kinds()]

    def reconcile(self, pipeline: dlt.Pipeline) -> list[Reconciliation]:
        """For every loaded file: lines read = rows in its table + lines rejected."""
        with pipeline.sql_client() as client:
            existing = _existing_tables(client)
            ledger = (
                client.execute_sql(
                    "select file_name, table_name, line_count"
                    f" from {client.make_qualified_table_name(LOADED_FILES)}"
                )
                if LOADED_FILES in existing
                else []
            )
            rejected = _rows_per_file(client, existing, REJECTED_LINES, "file_name")
            results = []
            for kind in self.file_kinds():
                rows = _rows_per_file(client, existing, kind.table, "_file_name")
                files = [(name, lines) for name, table, lines in ledger if table == kind.table]
                problems = tuple(
                    f"{name}: {lines} lines, {rows.get(name, 0)} rows + "
                    f"{rejected.get(name, 0)} rejected"
                    for name, lines in files
                    if rows.get(name, 0) + rejected.get(name, 0) != lines
                )
                results.append(
                    Reconciliation(
                        raw_table=f"{self.dataset}.{kind.table}",
                        source=f"{self.name}: lines of {len(files)} files less lines rejected",
                        raw_rows=sum(rows.get(name, 0) for name, _ in files),
                        source_rows=sum(lines - rejected.get(name, 0) for name, lines in files),
                        problems=problems,
                    )
                )
        return results


def _existing_tables(client: Any) -> set[str]:
    return {
        name
        for (name,) in client.execute_sql(
            "select table_name from information_schema.tables where table_schema = %s",
            client.dataset_name,
        )
    }


def _rows_per_file(client: Any, existing: set[str], table: str, column: str) -> dict[str, int]:
    if table not in existing:
        return {}
    return dict(
        client.execute_sql(
            f"select {column}, count(*) from {client.make_qualified_table_name(table)} group by 1"
        )
    )
