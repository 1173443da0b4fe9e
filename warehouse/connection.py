"""Connecting to the warehouse, with errors that name the setting to fix."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from warehouse.settings import WarehouseSettings

CONNECT_TIMEOUT_SECONDS = 5


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached with the current settings; the message is one line."""


def explain_connection_error(settings: WarehouseSettings, error: Exception, database: str) -> str:
    """One line saying why connecting failed and which variable (or make target) fixes it."""
    text = str(error)
    where = f"{settings.host}:{settings.port}"
    user_variable, password_variable = settings.variables
    if "password authentication failed" in text or "no password supplied" in text:
        # The server answers the same for an unknown user, so both variables are suspects.
        return (
            f"PostgreSQL at {where} rejected user {settings.user!r} and its password: "
            f"check {user_variable} and {password_variable}"
        )
    if "role" in text and "does not exist" in text:
        if settings.embedded:
            return (
                f"the embedded warehouse at {where} has no user {settings.user!r} yet: run "
                "`make db-up`, which creates the platform's users"
            )
        return f"PostgreSQL at {where} has no user {settings.user!r}: check {user_variable}"
    if "permission denied for database" in text:
        return (
            f"user {settings.user!r} may not connect to {database!r} at {where}: check "
            f"{user_variable} (see `python -m warehouse roles --sql`)"
        )
    if "database" in text and "does not exist" in text:
        return f"PostgreSQL at {where} has no database {database!r}: check PGDATABASE"
    if "could not translate host name" in text or "Name or service not known" in text:
        return f"cannot resolve host {settings.host!r}: check PGHOST"
    if settings.embedded:
        return (
            f"the embedded warehouse is not running on {where}: start it with `make db-up` "
            "(or set PGHOST to use another server)"
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"cannot connect to PostgreSQL at {where} ({first_line}): check PGHOST and PGPORT"


def connect(settings: WarehouseSettings, database: str | None = None) -> Connection:
    """An open psycopg2 connection to the warehouse database (or to ``database`` on its server,
    such as ``postgres`` for creating the warehouse database)."""
    dbname = database or settings.database
    try:
        return psycopg2.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            dbname=dbname,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="elt-platform",
        )
    except psycopg2.OperationalError as error:
        raise WarehouseUnavailable(explain_connection_error(settings, error, dbname)) from None


def check_connection(settings: WarehouseSettings) -> None:
    """Raise :class:`WarehouseUnavailable` unless the warehouse database answers a query."""
    with connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("select 1")
    conn.close()


def ensure_database(settings: WarehouseSettings) -> bool:
    """Create the warehouse database on its server if it is missing. True if it was created."""
    database = settings.database
    conn = connect(settings, "postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("select 1 from pg_database where datname = %s", (database,))
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
            return True
    finally:
        conn.close()
