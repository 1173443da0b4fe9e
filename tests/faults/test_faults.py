"""The fault suite (``make test-faults``): faults done on purpose, then a clean run, then every raw
table compared with its source (see ``faultlib``). Every count must be 0.

- ``kill -9`` of the command-line loader, and of a Dagster run, at random moments, for each
  source (``FAULT_KILLS`` each, at moments drawn with ``FAULT_SEED``);
- the database stopped as a power cut would (``pg_ctl stop -m immediate``) mid-load and
  mid-``dbt build``;
- two loads of one source at once, from the command line and Dagster;
- every kind of bad file in the landing bucket.

One server holds the warehouse and the demo shop, and keeps its durability settings: a crash
must not lose what was committed. The shop moves a day forward before each fault, so every
fault hits a load with something to load.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultlib import (
    FIGURES,
    KILLS,
    Figures,
    Scenario,
    compare_everything,
    compare_landing,
    compare_payments,
    compare_shop,
    kill_after,
    kill_points,
    python,
    start,
    timed_run,
)
from helpers import TEST_API_TOKEN, free_port, landing_dir, query, server_env, shop_url, simulator

from demo_sources.payments_api import PaymentsApiServer
from demo_sources.simulator import ShopSimulator
from warehouse.embedded import ThrowawayServer, throwaway_server
from warehouse.paths import PROJECT_ROOT

COMPARE = {"shop": compare_shop, "payments": compare_payments, "landing": compare_landing}
DAGSTER_RUN = """
import sys
from dagster import DagsterInstance
from orchestration.definitions import defs

source = sys.argv[1]
keys = [
    key
    for key in defs.resolve_asset_graph().get_all_asset_keys()
    if key.path[0] == f"raw_{source}"
]
result = defs.resolve_job_def("refresh_warehouse").execute_in_process(
    instance=DagsterInstance.get(), asset_selection=keys, raise_on_error=False
)
sys.exit(0 if result.success else 1)
"""
"""One Dagster run loading a source (with its reconciliation checks), as the CLI does it."""


@dataclass
class World:
    server: ThrowawayServer
    shop: ShopSimulator
    env: dict[str, str]
    base: Path

    def log(self, name: str) -> Path:
        return self.base / "logs" / f"{name}.log"

    def load(self, source: str | None = None, log: str = "load") -> float:
        """A clean command-line load (of everything, or of ``source``); must pass reconciliation."""
        return timed_run(
            python("-m", "ingestion", *([source] if source else [])), self.env, self.log(log)
        )

    def dagster_load(self, source: str, log: str = "dagster") -> float:
        return timed_run(python("-c", DAGSTER_RUN, source), self.env, self.log(log))

    def prepare_instance(self) -> None:
        timed_run(python("-m", "orchestration.instance"), self.env, self.log("instance"))

    def crash_database(self) -> None:
        self.server.server.stop(mode="immediate")

    def restart_database(self) -> None:
        self.server.server.start()


def dbt(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("dbt")), *args]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("faults")
    with throwaway_server(base / "server") as server:
        shop = simulator(server)
        shop.init(6, scale="default")
        with PaymentsApiServer(shop_url(server), port=free_port(), token=TEST_API_TOKEN) as api:
            env = {
                **server_env(server, api.url),
                "SOURCES__PAYMENTS__API_TOKEN": TEST_API_TOKEN,
                "DAGSTER_HOME": str(base / "dagster"),
                "DBT_TARGET_PATH": str(base / "dbt-target"),
                "DBT_LOG_PATH": str(base / "dbt-logs"),
                "DBT_PROJECT_DIR": str(PROJECT_ROOT / "dbt_project"),
                "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
            }
            world = World(server, shop, env, base)
            timed_run(dbt("parse"), env, world.log("parse"))
            world.prepare_instance()
            world.load()
            yield world


def record(scenario: Scenario, figures: Figures, rows: int) -> None:
    scenario.figures.add(figures)
    scenario.rows_checked = max(scenario.rows_checked, rows)


def finish(scenario: Scenario) -> None:
    FIGURES.append(scenario)
    assert scenario.figures.clean, "\n".join(scenario.figures.details)


@pytest.mark.parametrize("source", ["shop", "payments", "landing"])
def test_kill_9_of_the_command_line_loader(world, source):
    scenario = Scenario(f"kill -9 of `python -m ingestion {source}`")
    world.shop.advance(1)
    duration = world.load(source, log=f"cli-{source}-timing")
    for number, moment in enumerate(kill_points(duration, KILLS)):
        world.shop.advance(1)
        process = start(python("-m", "ingestion", source), world.env, world.log(f"cli-{source}"))
        scenario.interrupted += kill_after(process, moment)
        scenario.faults += 1
        world.load(source, log=f"cli-{source}-clean-{number}")
        record(scenario, *COMPARE[source](world.server))
    finish(scenario)


@pytest.mark.parametrize("source", ["shop", "payments", "landing"])
def test_kill_9_of_a_dagster_run(world, source):
    scenario = Scenario(f"kill -9 of a Dagster run loading {source}")
    world.shop.advance(1)
    duration = world.dagster_load(source, log=f"dagster-{source}-timing")
    for number, moment in enumerate(kill_points(duration, KILLS)):
        world.shop.advance(1)
        process = start(
            python("-c", DAGSTER_RUN, source), world.env, world.log(f"dagster-{source}")
        )
        scenario.interrupted += kill_after(process, moment)
        scenario.faults += 1
        world.prepare_instance()
        world.dagster_load(source, log=f"dagster-{source}-clean-{number}")
        record(scenario, *COMPARE[source](world.server))
    finish(scenario)


@pytest.mark.parametrize("source", ["shop", "payments", "landing"])
def test_the_database_crashes_mid_load(world, source):
    scenario = Scenario(f"database crash during `python -m ingestion {source}`")
    world.shop.advance(1)
    duration = world.load(source, log=f"crash-{source}-timing")
    for number, moment in enumerate(kill_points(duration, max(KILLS - 1, 1))):
        world.shop.advance(1)
        process = start(python("-m", "ingestion", source), world.env, world.log(f"crash-{source}"))
        try:
            process.wait(timeout=moment)
            ran_through = True
        except Exception:
            ran_through = False
            world.crash_database()
        process.wait(timeout=300)
        world.restart_database()
        scenario.interrupted += not ran_through
        scenario.faults += 1
        world.load(source, log=f"crash-{source}-clean-{number}")
        record(scenario, *COMPARE[source](world.server))
    finish(scenario)


def test_the_database_crashes_mid_dbt_build(world):
    scenario = Scenario("database crash during `dbt build`")
    marts = "select table_name from information_schema.tables where table_schema = 'marts'"

    def build(log: str) -> float:
        return timed_run(dbt("build"), world.env, world.log(log))

    world.shop.advance(1)
    world.load()
    duration = build("dbt-timing")
    expected = {name for (name,) in query(world.server, marts)}
    for number, moment in enumerate(kill_points(duration, 2)):
        world.shop.advance(1)
        world.load(log=f"dbt-load-{number}")
        process = start(dbt("build"), world.env, world.log("dbt"))
        try:
            process.wait(timeout=moment * 0.8)
            ran_through = True
        except Exception:
            ran_through = False
            world.crash_database()
        process.wait(timeout=300)
        world.restart_database()
        scenario.interrupted += not ran_through
        scenario.faults += 1
        present = {name for (name,) in query(world.server, marts)}
        empty = [
            name
            for name in sorted(present)
            if query(world.server, f"select count(*) = 0 from marts.{name}")[0][0]
        ]
        missing = expected - present
        scenario.figures.rows_lost += len(missing) + len(empty)
        if missing or empty:
            scenario.figures.details.append(f"after the crash: missing {missing}, empty {empty}")
        build(f"dbt-clean-{number}")
        record(scenario, *compare_everything(world.server))
    finish(scenario)


def test_two_loads_of_one_source_at_once(world):
    scenario = Scenario("two landing loads at once (two CLIs and a Dagster run)")
    world.shop.advance(2)
    processes = [
        start(python("-m", "ingestion", "landing"), world.env, world.log("concurrent-a")),
        start(python("-m", "ingestion", "landing"), world.env, world.log("concurrent-b")),
        start(python("-c", DAGSTER_RUN, "landing"), world.env, world.log("concurrent-c")),
    ]
    codes = [process.wait(timeout=600) for process in processes]
    scenario.faults = len(processes)
    assert codes == [0, 0, 0], [world.log(f"concurrent-{x}").read_text()[-2000:] for x in "abc"]
    waited = sum(
        "waiting for it to finish" in world.log(f"concurrent-{x}").read_text() for x in "abc"
    )
    scenario.interrupted = waited
    record(scenario, *compare_landing(world.server))
    finish(scenario)
    assert waited >= 1, "no load waited for another: the loads did not overlap"


def bad_files() -> dict[str, bytes]:
    """Every kind of bad file, named for a day after the shop's (as raw bytes on disk)."""

    def event(event_id: str, **fields) -> dict:
        return {
            "event_id": event_id,
            "event_type": "page_view",
            "occurred_at": "2099-01-01T00:00:00Z",
        } | fields

    def lines(*rows) -> bytes:
        return b"\n".join(
            row if isinstance(row, bytes) else json.dumps(row).encode() for row in rows
        )

    good = gzip.compress(lines(event("t1"), event("t2")))
    return {
        "2099-01-01-truncated-gzip.jsonl.gz": good[: len(good) // 2],
        "2099-01-02-not-gzip.jsonl.gz": lines(event("n1")),
        "2099-01-03-empty.jsonl.gz": b"",
        "2099-01-04-truncated-lines.jsonl.gz": gzip.compress(
            lines(event("l1"), b'{"event_id": "l2", "event_ty', event("l3"))
        ),
        "2099-01-05-not-objects.jsonl.gz": gzip.compress(
            lines(event("o1"), b"[1, 2]", b'"text"', b"42")
        ),
        "2099-01-06-invalid-utf8.jsonl.gz": gzip.compress(
            lines(event("u1"), b'{"event_id": "u2\xff\xfe", "event_type": "x", "occurred_at": "x"}')
        ),
        "2099-01-07-crlf-bom.jsonl.gz": gzip.compress(
            b"\xef\xbb\xbf" + lines(event("c1"), event("c2")).replace(b"\n", b"\r\n")
        ),
        "2099-01-08-bad-timestamps.jsonl.gz": gzip.compress(
            lines(
                event("b1", occurred_at="2026-02-30T10:00:00Z"),
                event("b2", occurred_at="yesterday"),
            )
        ),
        "2099-01-09-nested.jsonl.gz": gzip.compress(
            lines(
                event("x1", tags=["a", "b"]), event("x2", context={"ip": "10.0.0.1", "list": [1]})
            )
        ),
        "2099-01-10-long-line.jsonl.gz": gzip.compress(
            lines(event("big", properties={"path": "p" * 5_000_000}), event("small"))
        ),
    }


def test_every_kind_of_bad_file(world):
    scenario = Scenario("bad files: broken gzip, empty, truncated, not objects, not UTF-8, ...")
    folder = landing_dir(world.server) / "events"
    files = bad_files()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    scenario.faults = len(files)

    world.load("landing", log="bad-files")

    set_aside = {
        name for (name,) in query(world.server, "select file_name from raw_landing._rejected_files")
    }
    assert set_aside == {
        "events/2099-01-01-truncated-gzip.jsonl.gz",
        "events/2099-01-02-not-gzip.jsonl.gz",
    }
    loaded = {
        event_id
        for (event_id,) in query(
            world.server,
            "select event_id from raw_landing.events where _file_name like %s",
            params=("events/2099-%",),
        )
    }
    assert loaded == {"l1", "l3", "o1", "u1", "c1", "c2", "b1", "b2", "x1", "x2", "big", "small"}
    scenario.interrupted = len(set_aside)
    record(scenario, *compare_landing(world.server))
    for name in files:
        (folder / name).unlink()
    finish(scenario)
