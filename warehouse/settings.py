"""Where the warehouse is: the one place that turns environment variables into connection settings.

dbt (through ``dbt_project/profiles.yml``), dlt and Dagster all read the same standard libpq
variables, ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` and ``PGDATABASE``. A single
``WAREHOUSE_URL`` (``postgresql://user:password@host:port/database``) may stand in for them; it is
expanded into the ``PG*`` variables for every subprocess we start (see :func:`libpq_env`).

With neither ``WAREHOUSE_URL`` nor ``PGHOST`` set, the warehouse is the embedded PostgreSQL server
that this project starts itself, listening on 127.0.0.1 (``PGPORT``, default 55432). Where its
data lives is not a connection setting: see :mod:`warehouse.paths`.

**One user per tool** (see :mod:`warehouse.roles`): each tool connects with the least privilege
it needs, so a :data:`ROLES` entry says which variables hold its user and password:

- ``transformer`` (dbt, and psql for analysts): ``PGUSER``/``PGPASSWORD``, as libpq and dbt read
  them (or the user of ``WAREHOUSE_URL``);
- ``loader`` (dlt): ``LOADER_PGUSER``/``LOADER_PGPASSWORD``;
- ``reporter`` (BI tools, notebooks): ``REPORTER_PGUSER``/``REPORTER_PGPASSWORD``;
- ``dagster`` (Dagster's run storage, a database of its own):
  ``DAGSTER_PGUSER``/``DAGSTER_PGPASSWORD``;
- ``admin`` (only to create the roles): ``ADMIN_PGUSER``/``ADMIN_PGPASSWORD``.

On the embedded server each has a fixed local user and password (it listens on 127.0.0.1 only,
and its superuser is ``postgres``/``postgres``). On another server a role whose variables are
unset uses ``PGUSER``/``PGPASSWORD``: one user for everything, until a DBA creates the roles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

EMBEDDED_HOST = "127.0.0.1"
EMBEDDED_PORT = 55432
EMBEDDED_USER = "postgres"
EMBEDDED_PASSWORD = "postgres"
EMBEDDED_DATABASE = "warehouse"


ADMIN, TRANSFORMER, LOADER = "admin", "transformer", "loader"
REPORTER, DAGSTER = "reporter", "dagster"


@dataclass(frozen=True)
class Role:
    """Where a tool's user and password come from, and who it is on the embedded server."""

    name: str
    user_variable: str
    password_variable: str
    embedded_user: str
    embedded_password: str


ROLES = {
    role.name: role
    for role in (
        Role(ADMIN, "ADMIN_PGUSER", "ADMIN_PGPASSWORD", EMBEDDED_USER, EMBEDDED_PASSWORD),
        Role(TRANSFORMER, "PGUSER", "PGPASSWORD", "dbt", "dbt-local"),
        Role(LOADER, "LOADER_PGUSER", "LOADER_PGPASSWORD", "dlt", "dlt-local"),
        Role(REPORTER, "REPORTER_PGUSER", "REPORTER_PGPASSWORD", "bi", "bi-local"),
        Role(DAGSTER, "DAGSTER_PGUSER", "DAGSTER_PGPASSWORD", "dagster", "dagster-local"),
    )
}


class SettingsError(ValueError):
    """A connection setting in the environment is malformed; the message names the variable."""


@dataclass(frozen=True)
class WarehouseSettings:
    """Connection settings for the warehouse, and whether this project runs the server itself."""

    host: str = EMBEDDED_HOST
    port: int = EMBEDDED_PORT
    user: str = EMBEDDED_USER
    password: str = field(default=EMBEDDED_PASSWORD, repr=False)
    database: str = EMBEDDED_DATABASE
    embedded: bool = True
    role: str = ADMIN

    @property
    def variables(self) -> tuple[str, str]:
        """The variables that hold this role's user and password."""
        role = ROLES[self.role]
        return role.user_variable, role.password_variable

    def url(self, *, hide_password: bool = False) -> str:
        """The warehouse database's ``postgresql://`` URL."""
        password = "****" if hide_password else quote(self.password, safe="")
        credentials = quote(self.user, safe="") + (f":{password}" if self.password else "")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{self.database}"


def _port(value: str, variable: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise SettingsError(f"{variable} must be a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{variable} must be a port number between 1 and 65535, got {port}")
    return port


def _from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise SettingsError(
            "WAREHOUSE_URL must look like postgresql://user:password@host:port/database, "
            f"got {url.split('@')[-1]!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise SettingsError("WAREHOUSE_URL has a port that is not a number") from None
    return {
        key: value
        for key, value in {
            "host": parts.hostname,
            "port": port,
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password is not None else None,
            "database": parts.path.lstrip("/") or None,
        }.items()
        if value is not None
    }


def load_settings(
    environ: Mapping[str, str] | None = None, role: str = TRANSFORMER
) -> WarehouseSettings:
    """The warehouse settings of ``role`` (see :data:`ROLES`) from ``environ`` (default: the
    process environment)."""
    env = os.environ if environ is None else environ
    embedded = not (env.get("WAREHOUSE_URL") or env.get("PGHOST"))

    values: dict[str, object] = {}
    if env.get("WAREHOUSE_URL"):
        values.update(_from_url(env["WAREHOUSE_URL"]))
    for variable, key in (
        ("PGHOST", "host"),
        ("PGUSER", "user"),
        ("PGPASSWORD", "password"),
        ("PGDATABASE", "database"),
    ):
        if env.get(variable) and key not in values:
            values[key] = env[variable]
    if env.get("PGPORT") and "port" not in values:
        values["port"] = _port(env["PGPORT"], "PGPORT")
    if not embedded:
        values.setdefault("port", 5432)
    values.update(_credentials(env, ROLES[role], values, embedded))
    return WarehouseSettings(embedded=embedded, role=role, **values)  # type: ignore[arg-type]


def _credentials(
    env: Mapping[str, str], role: Role, shared: Mapping[str, object], embedded: bool
) -> dict[str, object]:
    """The user and password of ``role``, each from its own variable, else (embedded) the role's
    local one, else the shared ``PGUSER``/``PGPASSWORD``."""
    if role.name == TRANSFORMER:
        own = {key: shared[key] for key in ("user", "password") if key in shared}
    else:
        own = {
            key: env[variable]
            for key, variable in (
                ("user", role.user_variable),
                ("password", role.password_variable),
            )
            if env.get(variable)
        }
    if embedded:
        return {"user": role.embedded_user, "password": role.embedded_password, **own}
    return own


def libpq_env(settings: WarehouseSettings) -> dict[str, str]:
    """The ``PG*`` variables for ``settings``, for dbt and other subprocesses.

    ``PGHOST`` is left out for the embedded server: its absence is what marks the embedded server
    (see :func:`load_settings`), and every reader defaults it to 127.0.0.1.
    """
    env = {
        "PGPORT": str(settings.port),
        "PGUSER": settings.user,
        "PGPASSWORD": settings.password,
        "PGDATABASE": settings.database,
    }
    if not settings.embedded:
        env["PGHOST"] = settings.host
    return env
