"""Dagster's own database: where production keeps runs, event logs and schedule and sensor state.

Dagster connects as its own least-privilege user, the ``dagster`` role of
:mod:`warehouse.settings`: ``DAGSTER_PGUSER`` and ``DAGSTER_PGPASSWORD`` (on the embedded server
``dagster``/``dagster-local``; on another server unset means ``PGUSER``/``PGPASSWORD``, as for
every role). Its database is ``dagster``, which :mod:`warehouse.roles` creates, owned by that
user: ``make db-up`` on the embedded server, a DBA's ``python -m warehouse roles --sql``
elsewhere. Nothing here creates a database or needs a superuser.

The server is the warehouse's unless ``DAGSTER_PGHOST`` names another; ``DAGSTER_PGPORT``
(default: the warehouse's port, 5432 on a server of its own) and ``DAGSTER_PGDATABASE`` (default
``dagster``) complete it. A server of its own needs ``DAGSTER_PGUSER`` and ``DAGSTER_PGPASSWORD``
set: the warehouse's credentials never go to another server.

:func:`storage_env` fills in all five ``DAGSTER_PG*`` variables, which ``deploy/dagster.yaml``
reads; the local topology and the container start-up set them so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace

from warehouse.connection import WarehouseUnavailable, check_connection
from warehouse.roles import DAGSTER_DATABASE
from warehouse.settings import DAGSTER, WarehouseSettings, load_settings

HOST, PORT, USER, PASSWORD, DATABASE = (
    "DAGSTER_PGHOST",
    "DAGSTER_PGPORT",
    "DAGSTER_PGUSER",
    "DAGSTER_PGPASSWORD",
    "DAGSTER_PGDATABASE",
)
STORAGE_VARIABLES = (HOST, PORT, USER, PASSWORD, DATABASE)


class StorageError(RuntimeError):
    """Dagster's storage is misconfigured or unreachable; the message is one line naming the fix."""


def storage_settings(environ: Mapping[str, str] | None = None) -> WarehouseSettings:
    """Dagster's storage connection from ``environ`` (default: the process environment), as the
    module docstring says."""
    env = os.environ if environ is None else environ
    own_server = bool(env.get(HOST))
    if own_server:
        missing = [name for name in (USER, PASSWORD) if not env.get(name)]
        if missing:
            raise StorageError(
                f"{HOST} names a server for Dagster's storage: set {' and '.join(missing)} too"
                " (the warehouse's credentials are never sent to another server)"
            )
    settings = load_settings(env, role=DAGSTER)
    port = env.get(PORT) or (None if not own_server else "5432")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise StorageError(f"{PORT} must be a port number, got {port!r}")
    return replace(
        settings,
        host=env[HOST] if own_server else settings.host,
        port=int(port) if port else settings.port,
        database=env.get(DATABASE) or DAGSTER_DATABASE,
        embedded=settings.embedded and not own_server,
    )


def storage_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every ``DAGSTER_PG*`` variable ``deploy/dagster.yaml`` reads, for ``environ``."""
    settings = storage_settings(environ)
    return {
        HOST: settings.host,
        PORT: str(settings.port),
        USER: settings.user,
        PASSWORD: settings.password,
        DATABASE: settings.database,
    }


def check_storage(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`StorageError` unless Dagster's user reaches its database."""
    env = os.environ if environ is None else environ
    settings = storage_settings(env)
    try:
        check_connection(settings)
    except WarehouseUnavailable as error:
        message = storage_names(str(error), own_server=bool(env.get(HOST)))
        if f"has no database {settings.database!r}" in message:
            message += (
                " (`make db-up` creates it on the embedded server; elsewhere a DBA runs"
                " `python -m warehouse roles --sql`)"
            )
        raise StorageError(f"Dagster's storage: {message}") from None


def storage_names(message: str, *, own_server: bool) -> str:
    """``message`` about a connection, with the storage's variables for the warehouse's: its
    database always, its host and port where it has a server of its own."""
    names = {"PGDATABASE": DATABASE}
    if own_server:
        names |= {"PGHOST": HOST, "PGPORT": PORT}
    return re.sub(
        r"\b(PGHOST|PGPORT|PGDATABASE)\b",
        lambda match: names.get(match[0], match[0]),
        message,
    )
