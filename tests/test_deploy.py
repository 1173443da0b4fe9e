"""The production topology with real processes: code server, webserver and daemon on loopback,
Dagster's storage in PostgreSQL, driven through the webserver's GraphQL API as people's tools are.

One topology serves the module (``python -m deploy up``, what ``make prod-up`` runs once the
warehouse, the demo sources and the manifest are ready), against a throwaway server with a tiny
demo shop and the demo payments API on free ports. It runs in a view of the checkout that holds
no ``.env``: every Dagster command reads ``.env`` from the folder it runs in, and a developer's
would point the runs at their own warehouse. The last test stops it with ``make prod-down``;
whatever a failure leaves running is killed by the fixture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus
from helpers import (
    TEST_API_TOKEN,
    free_port,
    loads_for,
    outside_the_project,
    query,
    server_env,
    shop_url,
    simulator,
)

from deploy import commands
from deploy.storage import storage_env
from deploy.topology import Topology, down, local_command, running_pid, topology
from ingestion.load import exclusive_load
from warehouse.embedded import ThrowawayServer
from warehouse.paths import PROJECT_ROOT
from warehouse.settings import LOADER

RUN_TIMEOUT_SECONDS = 300
START_TIMEOUT_SECONDS = 300
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
SERVICES = ("code-server", "webserver", "daemon")

LOCATION_QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              name
              assetNodes { assetKey { path } }
              schedules { name }
              sensors { name }
            }
          }
        }
      }
    }
  }
}
"""

DAEMON_HEALTH_QUERY = """
{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }
"""


@dataclass
class Prod:
    """The running topology and what the tests reach it with."""

    env: dict[str, str]
    topo: Topology
    checkout: Path
    server: ThrowawayServer
    manifest_mtime: int

    def deploy(self, *args: str, timeout: float = START_TIMEOUT_SECONDS):
        """``python -m deploy ARGS``, from the checkout, as make runs it."""
        return self.run(["python", "-m", "deploy", *args], timeout=timeout)

    def run(self, command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            local_command(command),
            cwd=self.checkout,
            env={**self.topo.environment(self.env)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def graphql(self, query_text: str, variables: dict[str, Any] | None = None) -> dict:
        response = requests.post(
            f"{self.topo.url}/graphql",
            json={"query": query_text, "variables": variables or {}},
            timeout=60,
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def client(self):
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient("127.0.0.1", port_number=self.topo.webserver_port)

    def location(self) -> dict:
        [entry] = self.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        assert entry["name"] == commands.LOCATION_NAME
        return entry["locationOrLoadError"]

    def storage_query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows from Dagster's own database."""
        return query(self.server, sql, storage_env(self.env)["DAGSTER_PGDATABASE"], params)

    @contextlib.contextmanager
    def instance(self) -> Iterator[DagsterInstance]:
        """The topology's instance, in this process (its settings read DAGSTER_PG*)."""
        saved = dict(os.environ)
        os.environ.update(storage_env(self.env))
        try:
            with DagsterInstance.from_config(str(self.topo.dagster_home)) as instance:
                yield instance
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def event_types(self, run_id: str) -> list[str]:
        rows = self.storage_query(
            "select dagster_event_type from event_logs"
            " where run_id = %s and dagster_event_type is not null order by id",
            (run_id,),
        )
        return [event_type for (event_type,) in rows]

    def wait_for_run(self, run_id: str) -> DagsterRunStatus:
        client = self.client()
        status = wait_until(
            lambda: (status := client.get_run_status(run_id)) in FINISHED and status,
            RUN_TIMEOUT_SECONDS,
            f"run {run_id} to finish",
        )
        return status

    def log_tail(self, service: str = "code-server", lines: int = 60) -> str:
        text = self.topo.log_file(service).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def service_processes(self) -> list[psutil.Process]:
        """Every running service and every process it started."""
        processes = []
        for service in SERVICES:
            pid = running_pid(self.topo.pid_file(service))
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(pid)
                    processes += [root, *root.children(recursive=True)]
        return processes


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 1.0):
    """The first truthy value of ``condition()`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def two_free_ports() -> tuple[int, int]:
    first = free_port()
    while (second := free_port()) == first:
        pass
    return first, second


@pytest.fixture(scope="module")
def prod(module_server, dbt_manifest, tmp_path_factory) -> Iterator[Prod]:
    from demo_sources.payments_api import PaymentsApiServer

    simulator(module_server).init(3, scale="tiny")
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / "deploy").symlink_to(PROJECT_ROOT / "deploy")
    webserver_port, code_server_port = two_free_ports()
    api = PaymentsApiServer(shop_url(module_server), port=free_port(), token=TEST_API_TOKEN)
    with api:
        env = {
            **os.environ,
            **server_env(module_server, api.url),
            **outside_the_project(checkout),
            "DAGSTER_PORT": str(webserver_port),
            "DAGSTER_CODE_SERVER_PORT": str(code_server_port),
        }
        env.pop("PGHOST", None)
        topo = topology(env)
        deployed = Prod(env, topo, checkout, module_server, dbt_manifest.stat().st_mtime_ns)
        try:
            started = deployed.deploy("up")
            assert started.returncode == 0, started.stdout + started.stderr
            yield deployed
        finally:
            down(env, say=lambda line: None)


def test_the_webserver_answers_and_the_daemon_is_live(prod):
    info = requests.get(f"{prod.topo.url}/server_info", timeout=10)
    live = prod.run(commands.daemon_liveness_check())
    status = prod.deploy("status", timeout=120)
    statuses = prod.graphql(DAEMON_HEALTH_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    healthy = {daemon["daemonType"]: daemon["healthy"] for daemon in statuses if daemon["required"]}

    assert info.ok and "dagster_webserver_version" in info.json()
    assert live.returncode == 0 and "Daemon live" in live.stdout, live.stdout + live.stderr
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("answering") == len(SERVICES)
    for daemon in ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"):
        assert healthy.get(daemon), f"{daemon}: {statuses}"


def test_the_code_location_serves_every_asset_the_schedule_and_the_sensor(prod, dbt_manifest):
    from orchestration.definitions import defs

    location = prod.location()
    expected = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}

    assert location["__typename"] == "RepositoryLocation", location
    [repository] = location["repositories"]
    served = {"/".join(node["assetKey"]["path"]) for node in repository["assetNodes"]}
    assert served == expected
    assert [schedule["name"] for schedule in repository["schedules"]] == ["daily_refresh"]
    assert [sensor["name"] for sensor in repository["sensors"]] == ["new_landing_files"]
    assert dbt_manifest.stat().st_mtime_ns == prod.manifest_mtime, "the code server parsed"


def test_refresh_warehouse_submitted_through_graphql_is_queued_launched_and_succeeds(prod):
    # As the UI launches it: the code location's default executor, a process forked from the run
    # worker for each step (orchestration/executor.py).
    run_id = prod.client().submit_job_execution(
        "refresh_warehouse", repository_location_name=commands.LOCATION_NAME
    )

    status = prod.wait_for_run(run_id)

    assert status == DagsterRunStatus.SUCCESS, prod.log_tail()
    assert prod.storage_query("select status from runs where run_id = %s", (run_id,)) == [
        ("SUCCESS",)
    ]
    # Queued by the run coordinator, launched by the daemon, started and ended by its worker.
    lifecycle = [
        DagsterEventType.RUN_ENQUEUED,
        DagsterEventType.RUN_STARTING,
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
    ]
    events = prod.event_types(run_id)
    assert [event for event in events if event in {e.value for e in lifecycle}] == [
        event.value for event in lifecycle
    ]
    assert events.count(DagsterEventType.ASSET_MATERIALIZATION.value) > 20
    assert events.count(DagsterEventType.STEP_WORKER_STARTING.value) == 8, "a process per step"
    assert query(prod.server, "select count(*) from marts.fct_orders")[0][0] > 0


def test_a_second_run_of_a_load_waits_for_its_pool_instead_of_running_beside_it(prod):
    """A load already running elsewhere holds the landing lock, so the first run's landing step
    holds the pool's one slot for as long as the test likes; the second run must wait for it:
    queued by the daemon while the pool is full, not started beside the first."""
    from orchestration.definitions import defs

    landing = loads_for(prod.server)["landing"]
    tables = sorted(defs.resolve_assets_def(AssetKey(["raw_landing", "events"])).keys)
    client = prod.client()

    def submit() -> str:
        return client.submit_job_execution(
            "__ASSET_JOB", repository_location_name=commands.LOCATION_NAME, asset_selection=tables
        )

    def pool() -> Any:
        with prod.instance() as instance:
            return instance.event_log_storage.get_concurrency_info("dlt_landing")

    def step_events(run_id: str, event_type: DagsterEventType) -> list[float]:
        """When the load's step (not its checks) had ``event_type`` in run ``run_id``."""
        rows = prod.storage_query(
            "select extract(epoch from timestamp) from event_logs"
            " where run_id = %s and dagster_event_type = %s and step_key = %s",
            (run_id, event_type.value, landing.name),
        )
        return [float(seconds) for (seconds,) in rows]

    # As the loader, like any other load of it (the lock's holder is named from its session).
    with exclusive_load(landing, prod.server.as_role(LOADER)):
        first = submit()
        wait_until(lambda: step_events(first, DagsterEventType.STEP_START), 120, "the first load")
        second = submit()
        # The daemon keeps it queued while the pool is full (and says so in its log); a run
        # launched anyway would wait at the step, as a pending step of the pool.
        blocked = f"Run {second} is blocked by global concurrency limits"
        wait_until(
            lambda: (
                blocked in prod.topo.log_file("daemon").read_text(errors="replace")
                or second in {step.run_id for step in pool().pending_steps}
            ),
            120,
            "the second run to wait for the pool",
        )
        time.sleep(3)
        held_by = [slot.run_id for slot in pool().claimed_slots]
        second_started_while_held = step_events(second, DagsterEventType.STEP_START)

    assert held_by == [first]
    assert second_started_while_held == []
    assert prod.wait_for_run(first) == DagsterRunStatus.SUCCESS, prod.log_tail()
    assert prod.wait_for_run(second) == DagsterRunStatus.SUCCESS, prod.log_tail()
    [first_done] = step_events(first, DagsterEventType.STEP_SUCCESS)
    [second_start] = step_events(second, DagsterEventType.STEP_START)
    assert second_start >= first_done


def test_the_location_is_unavailable_while_the_code_server_is_down_and_recovers(prod):
    pid = running_pid(prod.topo.pid_file("code-server"))
    assert pid is not None
    group = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    expected_assets = len(prod.location()["repositories"][0]["assetNodes"])

    os.killpg(pid, signal.SIGKILL)
    psutil.wait_procs(group, timeout=10)
    unavailable = wait_until(
        lambda: (location := prod.location())["__typename"] == "PythonError" and location,
        90,
        "the webserver to see the code server gone",
    )
    restarted = prod.deploy("up")
    recovered = wait_until(
        lambda: (location := prod.location())["__typename"] == "RepositoryLocation" and location,
        90,
        "the location to load again",
    )

    assert "Could not reach user code server" in unavailable["message"]
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "code-server: started" in restarted.stdout
    assert "webserver: already running" in restarted.stdout
    assert "daemon: already running" in restarted.stdout
    assert len(recovered["repositories"][0]["assetNodes"]) == expected_assets


def test_make_prod_down_leaves_no_process_behind(prod):
    """The last test of the module: it stops the topology (and, as prod-down does, the demo API
    and embedded server it would have started, here the module's throwaway server)."""
    processes = prod.service_processes()
    ports = (prod.topo.webserver_port, prod.topo.code_server_port)
    assert len(processes) >= len(SERVICES)

    started = time.monotonic()
    # -e: the test's environment wins over a developer's .env, which the Makefile reads.
    result = subprocess.run(
        ["make", "-e", "--no-print-directory", "prod-down"],
        cwd=PROJECT_ROOT,
        env=prod.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 30, f"make prod-down took {elapsed:.0f}s"
    left = [process.pid for process in processes if process.is_running()]
    assert left == [], result.stdout
    for port in ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}", timeout=5)
    assert not any(prod.topo.pid_file(service).exists() for service in SERVICES)


STUBBORN_SERVICE = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "time.sleep(600)"],
    start_new_session=True,
)
print(child.pid, flush=True)
time.sleep(600)
"""
"""A service that ignores SIGTERM, as the code server can, with a child that left its group."""


def test_prod_down_kills_a_service_that_ignores_sigterm_and_what_it_started(tmp_path, monkeypatch):
    import deploy.topology

    monkeypatch.setattr(deploy.topology, "STOP_TIMEOUT_SECONDS", 2)
    env = {"PLATFORM_DATA_DIR": str(tmp_path)}
    topo = topology(env)
    service = subprocess.Popen(
        [sys.executable, "-c", STUBBORN_SERVICE], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        child = psutil.Process(int(service.stdout.readline()))
        topo.pid_file("code-server").parent.mkdir(parents=True)
        started = psutil.Process(service.pid).create_time()
        topo.pid_file("code-server").write_text(f"{service.pid} {started}\n")
        said: list[str] = []

        began = time.monotonic()
        down(env, say=said.append)
        took = time.monotonic() - began

        assert said == [f"code-server: killed after 2s (pid {service.pid})"]
        # down() reaps it (it is this process's child), so its exit status is gone: it ended.
        service.wait(5)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        assert took < 2 + deploy.topology.KILL_TIMEOUT_SECONDS
        assert not topo.pid_file("code-server").exists()
    finally:
        for pid in (service.pid,):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(NameError, psutil.Error):
            child.kill()
