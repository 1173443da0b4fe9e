"""The demo shop simulator: deterministic, time moves, and each mess switch does what it says."""

import gzip
import hashlib
import json
import re
from datetime import date

import pytest
from helpers import landing_dir, shop_url
from helpers import simulator as simulator_on

from demo_sources.config import Mess
from demo_sources.simulator import EVENT_TYPES, UNKNOWN_EVENT_TYPE, ShopSimulator
from warehouse.embedded import NO_DURABILITY, throwaway_server

TABLE_KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
    "payments.payments": "payment_id",
    "payments.refunds": "refund_id",
}


def shop_rows(simulator: ShopSimulator, sql: str) -> list[tuple]:
    """The rows of ``sql`` in the simulator's shop database."""
    from demo_sources.settings import connect

    conn = connect(simulator.shop_url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        conn.close()


def table_checksums(simulator: ShopSimulator) -> dict[str, str]:
    return {
        table: shop_rows(
            simulator, f"select md5(string_agg(t::text, '|' order by t.{key})) from {table} as t"
        )[0][0]
        for table, key in TABLE_KEYS.items()
    }


def file_checksums(simulator: ShopSimulator) -> dict[str, str]:
    return {
        str(path.relative_to(simulator.landing_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(simulator.landing_dir.rglob("*"))
        if path.is_file()
    }


def event_lines(simulator: ShopSimulator, day: str) -> list[str]:
    return (
        gzip.decompress((simulator.events_dir / f"{day}.jsonl.gz").read_bytes())
        .decode()
        .splitlines()
    )


def parsed_events(simulator: ShopSimulator, day: str) -> list[dict]:
    return [json.loads(line) for line in event_lines(simulator, day)]


@pytest.fixture
def simulate(fresh_server):
    """A simulator on a fresh server; call it with a Mess to get a shop with three days."""

    def run(mess: Mess, days: int = 3) -> ShopSimulator:
        shop = simulator_on(fresh_server)
        shop.init(days, scale="tiny", mess=mess)
        return shop

    return run


def test_same_seed_twice_gives_identical_tables_and_files(tmp_path):
    results = []
    for run in ("first", "second"):
        with throwaway_server(tmp_path / run, NO_DURABILITY) as server:
            shop = simulator_on(server)
            shop.init(3, scale="tiny", seed=7)
            shop.advance(2)
            results.append((table_checksums(shop), file_checksums(shop)))

    assert results[0] == results[1]
    assert len(results[0][1]) == 10  # 5 days of events and of marketing spend


def test_init_twice_is_a_no_op(simulate):
    simulator = simulate(Mess())
    before = table_checksums(simulator)

    assert simulator.init(3, scale="tiny") == []
    assert table_checksums(simulator) == before


def test_advance_updates_deletes_and_delivers_late_events(simulate):
    simulator = simulate(Mess.only(late_event_rate=0.1))
    customers_before = {row[0] for row in shop_rows(simulator, "select customer_id from customers")}

    [day] = simulator.advance(1)

    customers_after = {row[0] for row in shop_rows(simulator, "select customer_id from customers")}
    assert day.day == date(2026, 1, 4)
    assert day.deleted_customers > 0
    assert customers_before - customers_after, "deleted customers are gone from the shop"
    assert day.changed_customers > 0
    changed = shop_rows(
        simulator,
        "select count(*) from customers "
        "where updated_at > created_at and updated_at >= '2026-01-04'",
    )[0][0]
    assert changed > 0
    moved = shop_rows(
        simulator,
        "select count(*) from orders "
        "where updated_at >= '2026-01-04' and ordered_at < '2026-01-04'",
    )[0][0]
    assert moved == day.status_changes > 0
    late = [
        event
        for event in parsed_events(simulator, "2026-01-04")
        if event["occurred_at"] < "2026-01-04"
    ]
    assert late, "events held back from 2026-01-03 arrive in the 2026-01-04 file"


def test_no_mess_means_clean_files(simulate):
    simulator = simulate(Mess.none())

    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        events = parsed_events(simulator, day)
        assert events
        assert len({event["event_id"] for event in events}) == len(events)
        assert {event["event_type"] for event in events} <= set(EVENT_TYPES)
        assert all(event["occurred_at"].startswith(day) for event in events)
        header = (simulator.marketing_dir / f"{day}.csv").read_text().splitlines()[0]
        assert header == "date,channel,campaign,spend,impressions,clicks"


def test_duplicate_events_repeat_whole_lines(simulate):
    simulator = simulate(Mess.only(duplicate_event_rate=0.1))
    lines = event_lines(simulator, "2026-01-02")

    repeated = [line for line in set(lines) if lines.count(line) > 1]
    assert repeated
    assert len(lines) - len(set(lines)) == sum(lines.count(line) - 1 for line in repeated)


def test_unknown_event_types(simulate):
    simulator = simulate(Mess.only(unknown_event_type_rate=0.1))
    types = {event["event_type"] for event in parsed_events(simulator, "2026-01-02")}

    assert UNKNOWN_EVENT_TYPE in types
    assert types - {UNKNOWN_EVENT_TYPE} <= set(EVENT_TYPES)


def test_other_timestamp_format(simulate):
    simulator = simulate(Mess.only(other_timestamp_format_rate=0.1))
    stamps = [event["occurred_at"] for event in parsed_events(simulator, "2026-01-02")]

    other = [
        stamp for stamp in stamps if re.fullmatch(r"\d\d/\d\d/2026 \d\d:\d\d:\d\d\.\d+", stamp)
    ]
    assert other
    assert all(stamp.startswith("2026-01-02T") for stamp in stamps if stamp not in other)


def test_malformed_line_is_exactly_one_line_per_file(simulate):
    simulator = simulate(Mess.only(malformed_line_chance=1.0))

    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        broken = []
        for line in event_lines(simulator, day):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                broken.append(line)
        assert len(broken) == 1


def test_empty_file_holds_its_events_back(simulate):
    simulator = simulate(Mess.only(empty_file_chance=1.0))

    assert (simulator.events_dir / "2026-01-03.jsonl.gz").exists()
    assert event_lines(simulator, "2026-01-03") == []
    held = shop_rows(simulator, "select count(*) from simulator.late_events")[0][0]
    assert held > 0, "the empty day's events are kept for the next file, not lost"


def test_extra_csv_column(simulate):
    simulator = simulate(Mess.only(extra_csv_column_chance=1.0))
    rows = (simulator.marketing_dir / "2026-01-02.csv").read_text().splitlines()

    assert rows[0] == "date,channel,campaign,spend,impressions,clicks,currency"
    assert all(row.endswith(",EUR") for row in rows[1:])


def test_delivered_files_are_never_rewritten(simulate):
    simulator = simulate(Mess())
    path = simulator.events_dir / "2026-01-04.jsonl.gz"
    path.write_bytes(b"something else")

    with pytest.raises(Exception, match="already delivered"):
        simulator.advance(1)
    assert path.read_bytes() == b"something else"


def test_command_line_init_then_advance(fresh_server):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "SOURCES__SHOP__CREDENTIALS": shop_url(fresh_server),
        "SOURCES__LANDING__BUCKET_URL": str(landing_dir(fresh_server)),
    }

    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "demo_sources", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    init = demo("init", "--scale", "tiny", "--days", "2")
    again = demo("init", "--scale", "tiny", "--days", "2")
    advance = demo("advance", "--days", "1")

    assert init.returncode == 0, init.stderr
    assert "simulated 2026-01-01 .. 2026-01-02" in init.stdout
    assert "already initialised" in again.stdout
    assert advance.returncode == 0, advance.stderr
    assert "simulated 2026-01-03 .. 2026-01-03" in advance.stdout
    assert (landing_dir(fresh_server) / "events" / "2026-01-03.jsonl.gz").exists()
