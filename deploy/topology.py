"""The production topology on one machine: Dagster's long-lived services as real processes.

``make prod-up`` (``python -m deploy up``) prepares the instance (``deploy/dagster.yaml``: storage
in PostgreSQL, see :mod:`deploy.storage`), then starts, each in a process group of its own, with
its log and pid file under ``$PLATFORM_DATA_DIR/prod``:

1. the code server, which loads ``orchestration.definitions`` from the manifest ``make manifest``
   prepared (it never parses the dbt project), serves it over gRPC and starts each run as a
   process of its own;
2. the webserver and the daemon, which reach the code through ``deploy/workspace.yaml``.

The services run in the folder ``up`` runs in, the project folder under ``make``: there Dagster
reads ``.env``, dlt its ``.dlt/config.toml``, and the workspace is ``deploy/workspace.yaml``. It
waits until each answers (``dagster api grpc-health-check``, ``/server_info``,
``dagster-daemon liveness-check``) and prints the UI's URL. Run again, it starts only what is not
running: a code server that died comes back, and the webserver reloads its location.

``make prod-down`` stops them: SIGTERM to every process group at once, then SIGKILL to whatever is
left after ``STOP_TIMEOUT_SECONDS`` (the code server can ignore SIGTERM for minutes), including
any process a service started that left its group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
from dagster import DagsterInstance

from deploy import commands
from deploy.storage import check_storage, storage_env
from orchestration.instance import DeadRun
from orchestration.instance import prepare as prepare_instance
from warehouse.paths import PROJECT_ROOT, platform_paths

INSTANCE_SETTINGS = PROJECT_ROOT / "deploy" / "dagster.yaml"
HOST = "127.0.0.1"
"""The local topology listens on loopback only."""

START_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 15
KILL_TIMEOUT_SECONDS = 5
"""SIGKILL after 15 s, then 5 s for the kernel: ``make prod-down`` ends within 30 s."""

CHECK_TIMEOUT_SECONDS = 30
POLL_SECONDS = 1.0


class TopologyError(RuntimeError):
    """A service would not start or answer; the message says which and where its log is."""


@dataclass(frozen=True)
class Topology:
    """Where the local topology keeps its state, and its ports."""

    state_dir: Path
    webserver_port: int = commands.WEBSERVER_PORT
    code_server_port: int = commands.CODE_SERVER_PORT

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster_home"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.webserver_port}"

    def pid_file(self, service: str) -> Path:
        return self.state_dir / "run" / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.state_dir / "logs" / f"{service}.log"

    def service_commands(self) -> dict[str, list[str]]:
        """Each service's command, in the order they start."""
        return {
            "code-server": commands.code_server(HOST, self.code_server_port),
            "webserver": commands.webserver(HOST, self.webserver_port),
            "daemon": commands.daemon(),
        }

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What every service runs with: ``environ``, Dagster's storage (:func:`storage_env`),
        this topology's instance and where the code server is."""
        return {
            **environ,
            **storage_env(environ),
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_CODE_SERVER_HOST": HOST,
            "DAGSTER_CODE_SERVER_PORT": str(self.code_server_port),
        }


def topology(environ: Mapping[str, str] | None = None) -> Topology:
    """The topology the environment describes: ``PLATFORM_DATA_DIR``, ``DAGSTER_PORT`` (the UI,
    default 3000) and ``DAGSTER_CODE_SERVER_PORT`` (default 4000)."""
    env = os.environ if environ is None else environ
    return Topology(
        state_dir=platform_paths(env).data_dir / "prod",
        webserver_port=_port(env, "DAGSTER_PORT", commands.WEBSERVER_PORT),
        code_server_port=_port(env, "DAGSTER_CODE_SERVER_PORT", commands.CODE_SERVER_PORT),
    )


def _port(env: Mapping[str, str], variable: str, default: int) -> int:
    value = env.get(variable) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise TopologyError(f"{variable} must be a port number, got {value!r}")
    return int(value)


def local_command(command: list[str]) -> list[str]:
    """``command`` with its program taken from this Python's environment (``.venv/bin``)."""
    program = command[0]
    path = sys.executable if program == "python" else str(Path(sys.executable).with_name(program))
    return [path, *command[1:]]


def prepare(
    dagster_home: Path,
    *,
    settings: Path | None,
    end_dead_runs: bool,
    environ: Mapping[str, str] | None = None,
) -> list[DeadRun]:
    """The start-up before the services: Dagster's database reachable as its user (a clear line
    if not), the instance settings (``settings`` copied in, or None to keep those in
    ``dagster_home``), each load's pool limited to one, and, where every run ran on this machine,
    runs whose process is gone ended (:mod:`orchestration.instance`). The runs ended."""
    check_storage(environ)
    # deploy/dagster.yaml reads the storage's variables, some of which only storage_env fills in.
    with _environment(storage_env(environ)):
        return prepare_instance(dagster_home, settings, end_dead=end_dead_runs)


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs (and is the same process: the
    file holds its start time too)."""
    try:
        pid_text, started_text = pid_file.read_text().split()
        pid, started = int(pid_text), float(started_text)
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or abs(process.create_time() - started) > 1:
            return None
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return pid


def up(environ: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> Topology:
    """Prepare the instance and start every service that is not running; wait until all answer."""
    if not Path(commands.WORKSPACE).is_file():
        raise TopologyError(
            f"no {commands.WORKSPACE} here: run it from the project folder (make prod-up does)"
        )
    env = dict(os.environ if environ is None else environ)
    topo = topology(env)
    service_env = topo.environment(env)
    # The instance settings read the storage's variables: this process needs them too.
    with _environment(service_env):
        for run in prepare(
            topo.dagster_home,
            settings=INSTANCE_SETTINGS,
            end_dead_runs=True,
            environ=service_env,
        ):
            say(f"run {run.run_id} of {run.job_name}: its process is gone; marked failed")
        if running_pid(topo.pid_file("daemon")) is None:
            # So that the liveness check below waits for this daemon, not an earlier one's
            # heartbeats, still recent in the storage.
            with DagsterInstance.from_config(str(topo.dagster_home)) as instance:
                instance.wipe_daemon_heartbeats()

    checks = _health_checks(topo, service_env)
    service_commands = topo.service_commands()
    # The code server first: the webserver and the daemon load the workspace as they start.
    for group in (["code-server"], ["webserver", "daemon"]):
        started = {
            service: _start(topo, service, service_commands[service], service_env)
            for service in group
            if running_pid(topo.pid_file(service)) is None
        }
        for service in group:
            _wait_until_answering(topo, service, checks[service])
            say(f"{service}: {'started' if service in started else 'already running'}")
    say(f"Dagster UI: {topo.url}")
    return topo


def _health_checks(topo: Topology, env: Mapping[str, str]) -> dict[str, Callable[[], bool]]:
    """Whether each service answers: the checks the image and the Helm chart's probes run too."""
    return {
        "code-server": lambda: _succeeds(
            commands.code_server_health_check(HOST, topo.code_server_port), env
        ),
        "webserver": lambda: _answers(f"{topo.url}/server_info"),
        "daemon": lambda: _succeeds(commands.daemon_liveness_check(), env),
    }


def _start(topo: Topology, service: str, command: list[str], env: Mapping[str, str]) -> int:
    for path in (topo.pid_file(service), topo.log_file(service)):
        path.parent.mkdir(parents=True, exist_ok=True)
    with topo.log_file(service).open("ab") as log:
        process = subprocess.Popen(
            local_command(command),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = psutil.Process(process.pid).create_time()
    topo.pid_file(service).write_text(f"{process.pid} {started}\n")
    return process.pid


def _wait_until_answering(topo: Topology, service: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not check():
        if running_pid(topo.pid_file(service)) is None:
            raise TopologyError(
                f"{service} exited; see {topo.log_file(service)}:\n{_tail(topo.log_file(service))}"
            )
        if time.monotonic() > deadline:
            raise TopologyError(
                f"{service} did not answer within {START_TIMEOUT_SECONDS}s; "
                f"see {topo.log_file(service)}"
            )
        time.sleep(POLL_SECONDS)


def _succeeds(command: list[str], env: Mapping[str, str]) -> bool:
    try:
        result = subprocess.run(
            local_command(command),
            env=dict(env),
            capture_output=True,
            timeout=CHECK_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]):
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def down(environ: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> bool:
    """Stop every service within ``STOP_TIMEOUT_SECONDS`` + ``KILL_TIMEOUT_SECONDS``. True if
    something was running."""
    topo = topology(os.environ if environ is None else environ)
    running = {
        service: pid
        for service in reversed(topo.service_commands())
        if (pid := running_pid(topo.pid_file(service))) is not None
    }
    # Everything each service started, found now: a process that left its group still goes.
    processes = []
    for pid in running.values():
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
    for pid in running.values():
        _signal_group(pid, signal.SIGTERM)
    _gone, ignored_term = psutil.wait_procs(processes, timeout=STOP_TIMEOUT_SECONDS)
    alive = ignored_term
    if ignored_term:
        for pid in running.values():
            _signal_group(pid, signal.SIGKILL)
        for process in ignored_term:
            with contextlib.suppress(psutil.Error):
                process.kill()
        _gone, alive = psutil.wait_procs(ignored_term, timeout=KILL_TIMEOUT_SECONDS)
    killed = {process.pid for process in ignored_term}
    for service, pid in running.items():
        how = f"killed after {STOP_TIMEOUT_SECONDS}s" if pid in killed else "stopped"
        say(f"{service}: {how} (pid {pid})")
    for service in topo.service_commands():
        topo.pid_file(service).unlink(missing_ok=True)
    if alive:
        raise TopologyError(f"still running after SIGKILL: pids {[p.pid for p in alive]}")
    if not running:
        say("the production topology was not running")
    return bool(running)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    pid: int | None
    answering: bool


def status(environ: Mapping[str, str] | None = None) -> list[ServiceStatus]:
    """Each service: its pid if it runs, and whether it answers its health check."""
    env = dict(os.environ if environ is None else environ)
    topo = topology(env)
    service_env = topo.environment(env)
    checks = _health_checks(topo, service_env)
    statuses = []
    for service in topo.service_commands():
        pid = running_pid(topo.pid_file(service))
        statuses.append(ServiceStatus(service, pid, pid is not None and checks[service]()))
    return statuses
