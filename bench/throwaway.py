"""A throwaway embedded PostgreSQL for a benchmark run: a free port, a temporary folder."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from warehouse.connection import ensure_database
from warehouse.embedded import EmbeddedPostgres
from warehouse.settings import WarehouseSettings, load_settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_server(name: str) -> Iterator[WarehouseSettings]:
    """Settings of a fresh server with its warehouse database; everything is deleted after."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as scratch:
        settings = load_settings({"PGPORT": str(free_port()), "PLATFORM_DATA_DIR": scratch})
        server = EmbeddedPostgres(settings)
        server.start()
        try:
            ensure_database(settings, settings.database)
            yield settings
        finally:
            server.destroy()
