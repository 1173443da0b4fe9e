"""Each kind of bad input in the landing folder ends with the good rows loaded and the bad ones
kept, with a reason: one mess switch of the demo sources at a time, plus hand-made bad files."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest
from helpers import landing_dir, load, query, simulator

from demo_sources.config import Mess
from demo_sources.simulator import OTHER_TIMESTAMP_FORMAT, UNKNOWN_EVENT_TYPE


def load_landing(server) -> dict[str, int]:
    return load(server, "landing")


def delivered_lines(server) -> list[bytes]:
    folder = landing_dir(server) / "events"
    return [
        line
        for path in sorted(folder.iterdir())
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


def count(server, sql: str) -> int:
    return query(server, sql)[0][0]


def rejected_lines(server) -> int:
    """Rows in the quarantine table, which dlt creates with its first row."""
    if query(server, "select to_regclass('raw_landing._rejected_lines')")[0][0] is None:
        return 0
    return count(server, "select count(*) from raw_landing._rejected_lines")


@pytest.fixture
def shop_with(fresh_server):
    def simulate(days: int = 3, **switches: float):
        simulator(fresh_server).init(days, scale="tiny", mess=Mess.only(**switches))
        return fresh_server

    return simulate


def test_duplicates_are_loaded_as_delivered(shop_with):
    server = shop_with(duplicate_event_rate=0.2)
    load_landing(server)

    lines = delivered_lines(server)
    assert count(server, "select count(*) from raw_landing.events") == len(lines)
    assert count(server, "select count(distinct event_id) from raw_landing.events") < len(lines)
    assert rejected_lines(server) == 0


def test_every_file_table_is_indexed_by_load_for_dbt_to_read_only_new_loads(shop_with):
    server = shop_with()
    load_landing(server)
    load_landing(server)  # the index is made once

    indexed = query(
        server,
        "select tablename, indexdef from pg_indexes"
        " where schemaname = 'raw_landing' and indexdef ~ '[(]_dlt_load_id[)]$'",
    )
    assert sorted(table for table, _ in indexed) == ["events", "marketing_spend"]


def test_unknown_event_types_are_loaded_as_delivered(shop_with):
    server = shop_with(unknown_event_type_rate=0.2)
    load_landing(server)

    unknown = sum(
        f'"event_type":"{UNKNOWN_EVENT_TYPE}"'.encode() in line for line in delivered_lines(server)
    )
    assert unknown > 0
    assert (
        count(
            server,
            f"select count(*) from raw_landing.events where event_type = '{UNKNOWN_EVENT_TYPE}'",
        )
        == unknown
    )


def test_other_timestamp_formats_are_kept_as_text(shop_with):
    server = shop_with(other_timestamp_format_rate=0.2)
    load_landing(server)

    # DD/MM/YYYY HH:MM:SS: staging parses both formats
    other = count(
        server, "select count(*) from raw_landing.events where occurred_at like '__/__/____ %%'"
    )
    assert OTHER_TIMESTAMP_FORMAT == "%d/%m/%Y %H:%M:%S"
    assert other > 0
    assert count(server, "select count(*) from raw_landing.events") == len(delivered_lines(server))


def test_a_malformed_line_is_quarantined_with_its_file_line_and_reason(shop_with):
    server = shop_with(malformed_line_chance=1)
    load_landing(server)

    rejected = query(
        server,
        "select file_name, line_number, raw_line, reason from raw_landing._rejected_lines"
        " order by file_name",
    )
    files = sorted((landing_dir(server) / "events").iterdir())
    assert [row[0] for row in rejected] == [f"events/{path.name}" for path in files]
    for file_name, line_number, raw_line, reason in rejected:
        lines = gzip.decompress((landing_dir(server) / file_name).read_bytes())
        assert lines.splitlines()[line_number - 1].decode() == raw_line
        assert reason.startswith("not valid JSON")
    assert count(server, "select count(*) from raw_landing.events") == len(
        delivered_lines(server)
    ) - len(rejected)


def test_empty_files_load_nothing_and_are_not_read_again(shop_with):
    server = shop_with(empty_file_chance=1)

    assert "events" not in load_landing(server)
    assert "events" not in load_landing(server)
    assert rejected_lines(server) == 0


def test_an_extra_csv_column_becomes_a_new_raw_column(shop_with):
    server = shop_with(extra_csv_column_chance=1)
    load_landing(server)

    assert query(server, "select distinct currency from raw_landing.marketing_spend") == [("EUR",)]
    assert count(server, "select count(*) from raw_landing.marketing_spend") == 3 * 10


def test_late_events_arrive_in_the_next_file(shop_with):
    server = shop_with(late_event_rate=0.2)
    load_landing(server)

    late = query(
        server,
        "select count(*) from raw_landing.events"
        " where substr(_file_name, 8, 10) > substr(occurred_at, 1, 10)",
    )[0][0]
    assert late > 0


def test_lines_of_the_wrong_shape_or_type_are_quarantined(fresh_server):
    folder = landing_dir(fresh_server) / "events"
    folder.mkdir(parents=True)
    good = {"event_id": "e1", "event_type": "page_view", "occurred_at": "2026-01-01T00:00:00Z"}
    lines = [
        json.dumps(good),
        json.dumps([1, 2]),
        json.dumps({**good, "event_id": None}),
        json.dumps({**good, "event_id": "e4", "user_id": "not a number"}),
        json.dumps({**good, "event_id": "e5", "brand_new_field": "kept"}),
    ]
    (folder / "2026-01-01.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))

    load_landing(fresh_server)

    assert query(
        fresh_server, "select event_id, brand_new_field from raw_landing.events order by 1"
    ) == [
        ("e1", None),
        ("e5", "kept"),
    ]
    reasons = query(
        fresh_server, "select line_number, reason from raw_landing._rejected_lines order by 1"
    )
    assert [number for number, _ in reasons] == [2, 3, 4]
    assert reasons[0][1] == "not a JSON object"
    assert reasons[1][1] == "missing event_id"
    assert reasons[2][1].startswith("a field has an unexpected type")


def test_a_csv_value_of_the_wrong_type_lands_in_a_variant_column(fresh_server):
    folder = landing_dir(fresh_server) / "marketing"
    folder.mkdir(parents=True)
    (folder / "2026-01-01.csv").write_text(
        "date,channel,campaign,spend,impressions,clicks\n"
        "2026-01-01,search,search_01,12.50,1000,10\n"
        "2026-01-01,social,social_01,n/a,2000,20\n"
        "2026-01-01,email,email_01,3.00,300\n"
    )

    load_landing(fresh_server)

    rows = query(
        fresh_server,
        "select channel, spend, spend__v_text from raw_landing.marketing_spend order by channel",
    )
    assert rows == [("search", Decimal("12.50"), None), ("social", None, "n/a")]
    assert query(fresh_server, "select line_number, reason from raw_landing._rejected_lines") == [
        (4, "5 fields where the header has 6")
    ]


def test_a_file_changed_after_loading_is_reported_and_not_loaded_again(shop_with, caplog):
    import os

    server = shop_with()
    load_landing(server)
    events = count(server, "select count(*) from raw_landing.events")
    loaded = min((landing_dir(server) / "events").iterdir())
    modified = loaded.stat().st_mtime + 3600
    os.utime(loaded, (modified, modified))

    assert load_landing(server) == {}
    assert count(server, "select count(*) from raw_landing.events") == events
    assert f"events/{loaded.name} changed after it was loaded" in caplog.text


def write_events(server, name: str, lines: list, *, raw: bytes | None = None) -> None:
    """An event file in the server's landing folder, gzipped, from JSON-able rows or raw bytes."""
    folder = landing_dir(server) / "events"
    folder.mkdir(parents=True, exist_ok=True)
    content = raw if raw is not None else "\n".join(json.dumps(line) for line in lines).encode()
    (folder / name).write_bytes(gzip.compress(content))


def event(event_id: str, **fields) -> dict:
    at = "2026-01-01T00:00:00Z"
    return {"event_id": event_id, "event_type": "page_view", "occurred_at": at, **fields}


def test_nested_and_new_fields_never_block_a_load(fresh_server):
    """Issue 12: one file with a JSON array field failed the normalize step of every file."""
    write_events(fresh_server, "2026-01-01.jsonl.gz", [event("a", tags=["x", "y"], n=1)])
    write_events(
        fresh_server,
        "2026-01-02.jsonl.gz",
        [event("b", context={"ip": "10.0.0.1", "flags": [1]}, n="one")],
    )
    write_events(fresh_server, "2026-01-03.jsonl.gz", [event("c")])

    loaded = load_landing(fresh_server)

    assert loaded["events"] == 3
    rows = query(
        fresh_server,
        "select event_id, tags, context__ip, context__flags, n from raw_landing.events order by 1",
    )
    assert rows == [
        ("a", '["x", "y"]', None, None, "1"),
        ("b", None, "10.0.0.1", "[1]", "one"),
        ("c", None, None, None, None),
    ]
    assert query(fresh_server, "select count(*) from raw_landing._rejected_files") == [(0,)]


def test_a_line_longer_than_arrows_block_loads(fresh_server):
    """Issue 12: a well-formed 5 MB line was rejected as straddling two blocks."""
    long_path = "p" * 5_000_000
    lines = [event("a"), event("b", properties={"path": long_path})]
    write_events(fresh_server, "2026-01-01.jsonl.gz", lines)

    load_landing(fresh_server)

    lengths = query(
        fresh_server, "select event_id, length(properties__path) from raw_landing.events order by 1"
    )
    assert lengths == [("a", None), ("b", 5_000_000)]
    assert rejected_lines(fresh_server) == 0


def test_invalid_utf8_is_rejected_as_such_and_its_bytes_are_kept(fresh_server):
    good = json.dumps(event("a")).encode()
    bad = b'{"event_id": "b\xff", "event_type": "page_view", "occurred_at": "x"}'
    write_events(fresh_server, "2026-01-01.jsonl.gz", [], raw=good + b"\n" + bad + b"\n")

    load_landing(fresh_server)

    [(raw_line, reason)] = query(
        fresh_server, "select raw_line, reason from raw_landing._rejected_lines"
    )
    assert reason.startswith("not valid UTF-8")
    assert raw_line.encode("utf-8").decode("unicode_escape").encode("latin-1") == bad


def test_crlf_line_ends_and_a_byte_order_mark_load_like_any_file(fresh_server):
    lines = [json.dumps(event(name)).encode() for name in ("a", "b")]
    write_events(fresh_server, "2026-01-01.jsonl.gz", [], raw=b"\xef\xbb\xbf" + b"\r\n".join(lines))
    marketing = landing_dir(fresh_server) / "marketing"
    marketing.mkdir(parents=True)
    (marketing / "2026-01-01.csv").write_bytes(
        b"\xef\xbb\xbfdate,channel,campaign,spend,impressions,clicks\r\n"
        b"2026-01-01,search,s1,1.00,10,1\r\n"
    )

    loaded = load_landing(fresh_server)

    assert (loaded["events"], loaded["marketing_spend"]) == (2, 1)
    assert rejected_lines(fresh_server) == 0


def test_rejected_files_hold_each_unreadable_file_once_and_only_while_it_is(fresh_server):
    write_events(fresh_server, "2026-01-01.jsonl.gz", [event("a")])
    path = landing_dir(fresh_server) / "events" / "2026-01-01.jsonl.gz"
    good = path.read_bytes()
    path.write_bytes(good[:-8])

    load_landing(fresh_server)
    load_landing(fresh_server)
    broken = query(fresh_server, "select file_name, reason from raw_landing._rejected_files")
    path.write_bytes(good)
    load_landing(fresh_server)

    assert [name for name, _ in broken] == ["events/2026-01-01.jsonl.gz"]
    assert query(fresh_server, "select count(*) from raw_landing._rejected_files") == [(0,)]
    assert query(fresh_server, "select count(*) from raw_landing.events") == [(1,)]


def test_a_bucket_that_does_not_exist_is_an_error_not_nothing_new(fresh_server):
    from ingestion.load import LoadConfigurationError

    with pytest.raises(LoadConfigurationError, match="does not exist"):
        load(fresh_server, "landing", bucket_url=str(fresh_server.paths.data_dir / "nowhere"))
