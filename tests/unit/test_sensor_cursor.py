"""The file sensor's cursor: every file is requested once, in order, whatever the listing."""

import json

from orchestration.sensors import files_since


def test_a_first_tick_takes_everything_oldest_first():
    listing = [("2026-01-02T00:00:00", "b"), ("2026-01-01T00:00:00", "a")]

    new, cursor = files_since(listing, None)

    assert new == [("2026-01-01T00:00:00", "a"), ("2026-01-02T00:00:00", "b")]
    assert json.loads(cursor) == {"modified_after": "2026-01-02T00:00:00", "names_at_newest": ["b"]}


def test_nothing_new_gives_no_files_and_no_new_cursor():
    listing = [("2026-01-01T00:00:00", "a")]
    _, cursor = files_since(listing, None)

    assert files_since(listing, cursor) == ([], None)


def test_a_file_with_the_same_time_as_the_newest_seen_is_still_new():
    _, cursor = files_since([("2026-01-01T00:00:00", "a")], None)

    new, cursor = files_since([("2026-01-01T00:00:00", "a"), ("2026-01-01T00:00:00", "b")], cursor)

    assert new == [("2026-01-01T00:00:00", "b")]
    assert json.loads(cursor)["names_at_newest"] == ["a", "b"]


def test_a_rewritten_file_has_a_new_time_and_is_new_again():
    _, cursor = files_since([("2026-01-01T00:00:00", "a")], None)

    new, _ = files_since([("2026-01-03T00:00:00", "a")], cursor)

    assert new == [("2026-01-03T00:00:00", "a")]
