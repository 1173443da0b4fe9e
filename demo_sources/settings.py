"""Where the demo sources live: exactly where the loads are configured to read them.

- the shop database: where ``sources.shop.credentials`` points (``SOURCES__SHOP__CREDENTIALS``,
  a ``postgresql://`` URL; the Makefile points it at a ``shop`` database on the embedded server,
  as the read-only ``shop_reader``), so ``python -m demo_sources init`` against another server
  works too. The simulator writes there as the database's owner, ``DEMO_SHOP_OWNER`` and
  ``DEMO_SHOP_OWNER_PASSWORD`` (default: the embedded server's ``postgres``);
- the landing folder: ``sources.landing.bucket_url`` (``.dlt/config.toml``: ``data/landing``);
- the payments API: ``PAYMENTS_API_PORT`` (default 8765) and ``PAYMENTS_API_TOKEN``; the load
  reads it at ``sources.payments.base_url`` with ``sources.payments.api_token``, which the
  Makefile derives from these two.

The database connection here is the demo's own, apart from the warehouse's: the shop is another
system that happens to run on the same server by default.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

import dlt
import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

DEFAULT_API_PORT = 8765
DEFAULT_API_TOKEN = "demo-payments-token"
CONNECT_TIMEOUT_SECONDS = 10


class DemoSettingsError(RuntimeError):
    """A demo source is not configured or cannot be reached; the message is one line."""


def shop_url() -> str:
    """The shop database's ``postgresql://`` URL, as the shop load reads it."""
    url = dlt.secrets.get("sources.shop.credentials")
    if not url:
        raise DemoSettingsError(
            "the demo shop has no database: set SOURCES__SHOP__CREDENTIALS to a postgresql:// URL "
            "(make does it for the embedded server)"
        )
    return str(url)


def shop_owner_url() -> str:
    """The shop database's URL as its owner, who creates and changes it."""
    return with_user(
        shop_url(),
        os.environ.get("DEMO_SHOP_OWNER") or "postgres",
        os.environ.get("DEMO_SHOP_OWNER_PASSWORD") or "postgres",
    )


def with_user(url: str, user: str, password: str) -> str:
    """``url`` with another user and password."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def landing_url() -> str:
    """The landing bucket, as the landing load reads it (a local folder or an fsspec URL)."""
    url = dlt.config.get("sources.landing.bucket_url")
    if not url:
        raise DemoSettingsError(
            "the demo has no landing folder: set SOURCES__LANDING__BUCKET_URL or bucket_url in "
            "[sources.landing] of .dlt/config.toml"
        )
    return str(url)


def api_port() -> int:
    value = os.environ.get("PAYMENTS_API_PORT") or str(DEFAULT_API_PORT)
    try:
        return int(value)
    except ValueError:
        raise DemoSettingsError(f"PAYMENTS_API_PORT must be a port number, got {value!r}") from None


def api_token() -> str:
    return os.environ.get("PAYMENTS_API_TOKEN") or DEFAULT_API_TOKEN


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def connect(url: str) -> Connection:
    """An open connection to the database of ``url``, or one line saying why not."""
    try:
        return psycopg2.connect(
            _libpq_url(url),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="demo-sources",
        )
    except psycopg2.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise DemoSettingsError(
            f"cannot connect to the demo shop at {_where(url)} ({reason}): "
            "check SOURCES__SHOP__CREDENTIALS (and `make db-up` for the embedded server)"
        ) from None


def ensure_database(url: str) -> bool:
    """Create the database of ``url`` on its server if it is missing. True if it was created."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    conn = connect(parts._replace(path="/postgres").geturl())
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


def _libpq_url(url: str) -> str:
    """libpq knows ``postgresql://``, not SQLAlchemy's ``postgresql+psycopg2://``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"
