"""Parsing files on bytes alone: every line ends as a row or a rejected line with a reason."""

import gzip
import json

import pytest

from ingestion.files import (
    FileKind,
    LoadConfigurationError,
    count_lines,
    day_of,
    parse_csv,
    parse_file,
    parse_json_lines,
)

EVENTS = FileKind.from_config(
    "events",
    {
        "glob": "events/*.jsonl.gz",
        "format": "jsonl",
        "required": ["id", "at"],
        "columns": {"id": "text", "at": "text", "user": "bigint", "props.price": "double"},
    },
)
SPEND = FileKind.from_config(
    "spend",
    {"glob": "spend/*.csv", "format": "csv", "required": ["day", "amount"], "primary_key": "day"},
)


def lines(*rows) -> bytes:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


def test_a_clean_file_is_read_whole_with_nested_fields_flattened():
    table, rejected = parse_json_lines(
        lines({"id": "a", "at": "t", "props": {"price": 1.5}}, {"id": "b", "at": "t"}), "f", EVENTS
    )

    assert rejected == []
    assert table.column("props__price").to_pylist() == [1.5, None]
    assert table.column("_line_number").to_pylist() == [1, 2]
    assert table.column("_file_name").to_pylist() == ["f", "f"]


def test_bad_lines_are_rejected_one_by_one_with_their_reason():
    content = lines(
        {"id": "a", "at": "t"},
        "{not json",
        [1, 2],
        {"id": None, "at": "t"},
        {"id": "e", "at": "t", "user": "not a number"},
        {"id": "f", "at": "t", "new_field": "kept"},
    )

    table, rejected = parse_json_lines(content, "f", EVENTS)

    assert table.column("id").to_pylist() == ["a", "f"]
    assert table.column("new_field").to_pylist() == [None, "kept"]
    assert [(number, reason.split(":")[0]) for number, _, reason in rejected] == [
        (2, "not valid JSON"),
        (3, "not a JSON object"),
        (4, "missing id"),
        (5, "a field has an unexpected type"),
    ]


def test_blank_lines_are_neither_rows_nor_rejected_nor_counted():
    content = lines({"id": "a", "at": "t"}, "", "  ", {"id": "b", "at": "t"}) + b"\n"

    table, rejected = parse_json_lines(content, "f", EVENTS)

    assert table.num_rows == 2 and rejected == []
    assert count_lines(content) == 2


def test_a_csv_row_with_the_wrong_number_of_fields_is_rejected():
    rows, rejected = parse_csv(b"day,amount\n2026-01-01,3\n2026-01-02\n", "s.csv", SPEND)

    assert rows == [{"day": "2026-01-01", "amount": "3", "_file_name": "s.csv", "_line_number": 2}]
    assert rejected == [(3, "2026-01-02", "1 fields where the header has 2")]


def test_a_file_that_cannot_be_read_is_rejected_whole_and_its_lines_not_counted():
    broken = gzip.compress(lines({"id": "a", "at": "t"}))[:-10]

    parsed = parse_file("events/x.jsonl.gz", EVENTS, None, lambda: broken)
    missing_header = parse_file("spend/x.csv", SPEND, None, lambda: b"day,other\n1,2\n")

    assert parsed.rejected_file["reason"].startswith("cannot read the file")
    assert parsed.rows is None
    assert "header lacks amount" in missing_header.rejected_file["reason"]


def test_line_counts_exclude_the_csv_header():
    parsed = parse_file("spend/x.csv", SPEND, None, lambda: b"day,amount\n1,2\n3,4\n")

    assert (parsed.line_count, parsed.row_count) == (2, 2)


def test_the_day_of_a_file_is_the_first_date_in_its_name():
    assert day_of("events/2026-01-05.jsonl.gz") == "2026-01-05"
    assert day_of("dt=2026-02-01/part-0.csv") == "2026-02-01"
    assert day_of("events/latest.jsonl") is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "jsonl"}, "need a glob"),
        ({"glob": "*.xml", "format": "xml"}, "need a format"),
        ({"glob": "*.jsonl", "format": "jsonl", "columns": {"a": "decimal"}}, "decimal"),
    ],
)
def test_a_kind_of_file_configured_wrong_says_what_is_missing(options, message):
    with pytest.raises(LoadConfigurationError, match=message):
        FileKind.from_config("t", options)


def test_rejected_lines_are_logged_as_read_not_loaded(caplog):
    """The log line comes before the load: it must not claim rows were loaded."""
    content = lines({"id": "a", "at": "t"}, "{broken")

    parse_file("events/x.jsonl.gz", EVENTS, None, lambda: gzip.compress(content))

    assert "1 rows read, 1 lines set aside" in caplog.text
    assert "loaded" not in caplog.text
