"""Dagster's own database: where production keeps runs, event logs and schedule and sensor state.

``deploy/dagster.yaml`` reads the connection from ``DAGSTER_PG_HOST``, ``DAGSTER_PG_PORT``,
``DAGSTER_PG_USER``, ``DAGSTER_PG_PASSWORD`` and ``DAGSTER_PG_DB``. Left unset, the storage is a
database of its own, ``dagster``, on the warehouse's server (:mod:`warehouse.settings`), as the
warehouse's user unless ``DAGSTER_PG_USER`` and ``DAGSTER_PG_PASSWORD`` name one for Dagster. A
``DAGSTER_PG_HOST`` of its own needs its own user and password: the warehouse's password never
goes to another server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import psycopg2

from warehouse.connection import WarehouseUnavailable, connect, ensure_database
from warehouse.settings import WarehouseSettings, load_settings

STORAGE_VARIABLES = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)
DEFAULT_DATABASE = "dagster"
WAREHOUSE_TO_STORAGE_VARIABLE = {
    "PGHOST": "DAGSTER_PG_HOST",
    "PGPORT": "DAGSTER_PG_PORT",
    "PGUSER": "DAGSTER_PG_USER",
    "PGPASSWORD": "DAGSTER_PG_PASSWORD",
    "PGDATABASE": "DAGSTER_PG_DB",
}


class StorageError(RuntimeError):
    """Dagster's storage is misconfigured or unreachable; the message is one line naming the fix."""


def storage_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every ``DAGSTER_PG_*`` variable: those set in ``environ`` (default: the process
    environment), the others from the warehouse's settings as the module docstring says."""
    env = os.environ if environ is None else environ
    given = {name: env[name] for name in STORAGE_VARIABLES if env.get(name)}
    if "DAGSTER_PG_HOST" in given:
        missing = [name for name in ("DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD") if name not in given]
        if missing:
            raise StorageError(
                f"DAGSTER_PG_HOST names a server for Dagster's storage: set {' and '.join(missing)}"
                " too (the warehouse's credentials are never sent to another server)"
            )
        defaults = {"DAGSTER_PG_PORT": "5432"}
    else:
        warehouse = load_settings(env)
        defaults = {
            "DAGSTER_PG_HOST": warehouse.host,
            "DAGSTER_PG_PORT": str(warehouse.port),
            "DAGSTER_PG_USER": warehouse.user,
            "DAGSTER_PG_PASSWORD": warehouse.password,
        }
    storage = {**defaults, "DAGSTER_PG_DB": DEFAULT_DATABASE, **given}
    port = storage["DAGSTER_PG_PORT"]
    if not port.isdigit():
        raise StorageError(f"DAGSTER_PG_PORT must be a port number, got {port!r}")
    return storage


def storage_settings(storage: Mapping[str, str]) -> WarehouseSettings:
    """The connection of :func:`storage_env`'s variables, to connect with."""
    return WarehouseSettings(
        host=storage["DAGSTER_PG_HOST"],
        port=int(storage["DAGSTER_PG_PORT"]),
        user=storage["DAGSTER_PG_USER"],
        password=storage["DAGSTER_PG_PASSWORD"],
        database=storage["DAGSTER_PG_DB"],
        embedded=False,
    )


def ensure_storage_database(storage: Mapping[str, str]) -> bool:
    """Create Dagster's database unless it exists; True if it was created. Its tables are
    dagster-postgres's to create (and ``dagster instance migrate``'s to upgrade)."""
    settings = storage_settings(storage)
    try:
        connect(settings).close()
        return False
    except WarehouseUnavailable as error:
        if "has no database" not in str(error):
            raise StorageError(f"Dagster's storage: {_storage_names(str(error))}") from None
    try:
        return ensure_database(settings)
    except (WarehouseUnavailable, psycopg2.Error) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "refused"
        raise StorageError(
            f"cannot create Dagster's database {settings.database!r} on "
            f"{settings.host}:{settings.port} as {settings.user!r} ({_storage_names(reason)}): "
            "create it as an administrator, or set DAGSTER_PG_DB to one that exists"
        ) from None


def _storage_names(message: str) -> str:
    """``message`` about a connection with the storage's variable names for the warehouse's."""
    return re.sub(
        r"\bPG(HOST|PORT|USER|PASSWORD|DATABASE)\b",
        lambda match: WAREHOUSE_TO_STORAGE_VARIABLE[match[0]],
        message,
    )
