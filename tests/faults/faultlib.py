"""What the fault suite needs: processes to kill at a chosen moment, and a comparison of every raw
table with its source that counts what a fault could have done to it.

The comparison reads both sides in full (the shop's tables, the payments service's tables, every
line of every landing file) and counts, per scenario:

- rows lost: in the source, missing from raw;
- rows extra: in raw, not in the source (or kept after the source deleted them);
- duplicate keys: a key twice in a raw merge table;
- duplicate (file, line) pairs: a line of a landing file loaded twice;
- checksum mismatches: a row whose values differ from the source's.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

from helpers import landing_dir, query, shop_columns, shop_query

from warehouse.embedded import ThrowawayServer
from warehouse.paths import PROJECT_ROOT

SEED = int(os.environ.get("FAULT_SEED", "12"))
KILLS = int(os.environ.get("FAULT_KILLS", "3"))
"""Kills per source and route (command line, Dagster)."""
RANDOM = random.Random(SEED)

SHOP_TABLES = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}
PAYMENTS = {
    "payments": (
        "payment_id",
        "select payment_id, order_id, (amount * 100)::bigint, currency, method, status,"
        " created_at, updated_at from payments.payments",
        "select payment_id, order_id, amount_cents, currency, method, status, created_at,"
        " updated_at from raw_payments.payments",
    ),
    "refunds": (
        "refund_id",
        "select refund_id, payment_id, (amount * 100)::bigint, reason, created_at"
        " from payments.refunds",
        "select refund_id, payment_id, amount_cents, reason, created_at from raw_payments.refunds",
    ),
}


@dataclass
class Figures:
    """What one comparison found; every field must be 0."""

    rows_lost: int = 0
    rows_extra: int = 0
    duplicate_keys: int = 0
    duplicate_file_lines: int = 0
    checksum_mismatches: int = 0
    details: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.details += other.details

    @property
    def clean(self) -> bool:
        return all(getattr(self, name) == 0 for name in COUNTS)


COUNTS = [item.name for item in fields(Figures) if item.name != "details"]


@dataclass
class Scenario:
    """One row of the suite's table: a fault, how often it was done, what the checks found."""

    name: str
    faults: int = 0
    interrupted: int = 0
    rows_checked: int = 0
    figures: Figures = field(default_factory=Figures)


FIGURES: list[Scenario] = []


def figures_table() -> str:
    header = [
        "fault",
        "runs",
        "cut short",
        "rows compared",
        "rows lost",
        "rows extra",
        "duplicate keys",
        "duplicate (file, line)",
        "checksum mismatches",
    ]
    rows = [
        [
            scenario.name,
            str(scenario.faults),
            str(scenario.interrupted),
            f"{scenario.rows_checked:,}",
            *(str(getattr(scenario.figures, name)) for name in COUNTS),
        ]
        for scenario in FIGURES
    ]
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(len(header))]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``command`` in a process group of its own (so a kill reaches its children too)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """``kill -9`` the process group after ``seconds``; True if it was still running then."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True


def timed_run(command: list[str], env: dict[str, str], log: Path, timeout: float = 600) -> float:
    """Run ``command`` to the end; its seconds. Fails with the log's end if it fails."""
    started = time.monotonic()
    process = start(command, env, log)
    code = process.wait(timeout=timeout)
    if code != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise AssertionError(f"{' '.join(command)} exited {code}:\n{tail}")
    return time.monotonic() - started


def kill_points(duration: float, count: int) -> list[float]:
    """``count`` moments to kill a process that runs ``duration`` seconds when left alone: past
    the imports (the first half, mostly), up to its last moments."""
    return sorted(RANDOM.uniform(0.45 * duration, duration) for _ in range(count))


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def compare_shop(server: ThrowawayServer) -> tuple[Figures, int]:
    figures, checked = Figures(), 0
    for table, key in SHOP_TABLES.items():
        columns = shop_columns(server, table)
        select = f"select {', '.join(columns)} from {{}}"
        source = shop_query(server, select.format(table))
        raw = query(server, select.format(f"raw_shop.{table}"))
        figures.add(compare_keyed(f"raw_shop.{table}", source, raw, columns.index(key)))
        checked += len(raw)
    return figures, checked


def compare_payments(server: ThrowawayServer) -> tuple[Figures, int]:
    figures, checked = Figures(), 0
    for table, (_, source_sql, raw_sql) in PAYMENTS.items():
        source = shop_query(server, source_sql)
        exists = query(server, "select to_regclass(%s)", params=(f"raw_payments.{table}",))[0][0]
        raw = query(server, raw_sql) if exists else []
        figures.add(compare_keyed(f"raw_payments.{table}", source, raw, 0))
        checked += len(raw)
    return figures, checked


def compare_keyed(name: str, source: list[tuple], raw: list[tuple], key: int) -> Figures:
    figures = Figures()
    keys = Counter(row[key] for row in raw)
    figures.duplicate_keys = sum(count - 1 for count in keys.values())
    source_rows = {row[key]: row for row in source}
    raw_rows = {row[key]: row for row in raw}
    figures.rows_lost = len(source_rows.keys() - raw_rows.keys())
    figures.rows_extra = len(raw_rows.keys() - source_rows.keys())
    figures.checksum_mismatches = sum(
        1
        for row_key in source_rows.keys() & raw_rows.keys()
        if source_rows[row_key] != raw_rows[row_key]
    )
    if not figures.clean:
        figures.details.append(
            f"{name}: lost {figures.rows_lost}, extra {figures.rows_extra}, duplicate keys "
            f"{figures.duplicate_keys}, mismatches {figures.checksum_mismatches}"
        )
    return figures


def compare_landing(server: ThrowawayServer) -> tuple[Figures, int]:
    """Every line of every readable event file against raw: loaded once (as a row or a rejected
    line), with the event id the line carries."""
    figures, checked = Figures(), 0
    unreadable = (
        {name for (name,) in query(server, "select file_name from raw_landing._rejected_files")}
        if _exists(server, "raw_landing._rejected_files")
        else set()
    )
    rows = Counter(
        (file_name, line)
        for file_name, line in query(
            server, "select _file_name, _line_number from raw_landing.events"
        )
    )
    rejected = (
        Counter(
            (file_name, line)
            for file_name, line in query(
                server, "select file_name, line_number from raw_landing._rejected_lines"
            )
        )
        if _exists(server, "raw_landing._rejected_lines")
        else Counter()
    )
    figures.duplicate_file_lines = sum(count - 1 for count in (rows + rejected).values())
    ids = dict(
        ((file_name, line), event_id)
        for file_name, line, event_id in query(
            server, "select _file_name, _line_number, event_id from raw_landing.events"
        )
    )
    delivered = set()
    for path in sorted((landing_dir(server) / "events").iterdir()):
        name = f"events/{path.name}"
        if name in unreadable:
            continue
        for number, line in _lines(path):
            delivered.add((name, number))
            if (name, number) in ids:
                if _event_id(line) != ids[(name, number)]:
                    figures.checksum_mismatches += 1
            elif (name, number) not in rejected:
                figures.rows_lost += 1
    figures.rows_extra = len((set(rows) | set(rejected)) - delivered)
    checked = len(delivered)
    if not figures.clean:
        figures.details.append(
            f"raw_landing.events: lost {figures.rows_lost}, extra {figures.rows_extra}, duplicate "
            f"(file, line) {figures.duplicate_file_lines}, mismatches {figures.checksum_mismatches}"
        )
    return figures, checked


def _exists(server: ThrowawayServer, relation: str) -> bool:
    return query(server, "select to_regclass(%s)", params=(relation,))[0][0] is not None


def _lines(path: Path) -> Iterable[tuple[int, bytes]]:
    try:
        content = gzip.decompress(path.read_bytes())
    except (OSError, EOFError):
        return []
    return [
        (number, line)
        for number, line in enumerate(content.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1)
        if line.strip()
    ]


def _event_id(line: bytes) -> str | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value.get("event_id") if isinstance(value, dict) else None


def compare_everything(server: ThrowawayServer) -> tuple[Figures, int]:
    figures, checked = Figures(), 0
    for compare in (compare_shop, compare_payments, compare_landing):
        found, rows = compare(server)
        figures.add(found)
        checked += rows
    return figures, checked
