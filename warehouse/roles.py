"""Least privilege in the warehouse: who may do what, as SQL that is safe to run again.

dbt Labs' design: three group roles that hold the privileges (NOLOGIN), one login user per tool
that holds a group, so replacing a tool never means re-granting anything.

- ``loader`` (login ``dlt`` on the embedded server): dlt; creates and owns the ``raw_*`` schemas;
- ``transformer`` (``dbt``): dbt and psql; reads raw, creates and owns dbt's schemas;
- ``reporter`` (``bi``): BI tools and notebooks; reads the marts (dbt ``grants``);
- ``dagster`` (no group): owns the ``dagster`` database, Dagster's run storage.

- Nobody else may connect to the warehouse database (``REVOKE ALL ... FROM PUBLIC``), and nobody
  creates anything in ``public``.
- The transformer reads raw through default privileges granted *for the loader's user*, the role
  that creates the raw tables: a new source's schema is readable as soon as dlt creates it.
- The reporter's ``SELECT`` on each mart comes from dbt's ``grants`` (``dbt_project.yml``); the
  ``USAGE`` on the marts schema, which dbt's grants do not cover, from an ``on-run-end`` hook.
- Personal data is pseudonymised with a keyed hash (HMAC-SHA256): the key is made here, inside
  the database, in a table only the role running this SQL can read; the transformer may only
  call ``pseudonymisation.pseudonymise(text)``, a ``SECURITY DEFINER`` function. The key never
  reaches dbt's SQL, manifest or logs.

``python -m warehouse roles`` runs this as the admin (the embedded server's superuser; ``make
db-up`` does it); ``python -m warehouse roles --sql`` prints it for a DBA to run with psql on an
external server (passwords as psql variables: ``psql -v dbt_password=... -f roles.sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from psycopg2 import sql

from warehouse.settings import (
    DAGSTER,
    LOADER,
    REPORTER,
    TRANSFORMER,
    WarehouseSettings,
    load_settings,
)

GROUPS = (LOADER, TRANSFORMER, REPORTER)
"""The group roles, named after what they do; login users are members."""
DAGSTER_DATABASE = "dagster"
PSEUDONYMISATION_SCHEMA = "pseudonymisation"


@dataclass(frozen=True)
class Login:
    """A tool's login user and password, and the group that gives it its privileges."""

    user: str
    password: str
    group: str | None


@dataclass(frozen=True)
class Secret:
    """A login's password in a statement's parameters: its value when run, a psql variable when
    printed."""

    user: str
    value: str = field(repr=False)


def logins(environ: Mapping[str, str] | None = None) -> dict[str, Login]:
    """Every tool's login, as the settings give them (see :data:`warehouse.settings.ROLES`)."""
    result = {}
    for role in (TRANSFORMER, LOADER, REPORTER, DAGSTER):
        settings = load_settings(environ, role)
        result[role] = Login(settings.user, settings.password, role if role in GROUPS else None)
    return result


def statements(
    database: str, users: Mapping[str, Login], *, adopt_existing: bool = False
) -> list[tuple[str, tuple | None]]:
    """The SQL that gives every role its privileges in ``database``, and no more; each statement
    with the parameters it takes (``%s``, as psycopg2 fills them). Safe to run any number of
    times.

    ``adopt_existing`` hands schemas built before the roles existed (by the superuser) to the
    user that builds them now: for the embedded server, whose every schema is this project's.
    """
    q = _quoted
    loader, transformer = q(users[LOADER].user), q(users[TRANSFORMER].user)
    schema = q(PSEUDONYMISATION_SCHEMA)
    groups = ", ".join(q(group) for group in GROUPS)
    out: list[tuple[str, tuple | None]] = []
    for group in GROUPS:
        out.append((_CREATE_ROLE_IF_MISSING, (group, f"create role {q(group)} nologin")))
    for login in users.values():
        out.append((_CREATE_ROLE_IF_MISSING, (login.user, f"create role {q(login.user)}")))
        out.append(
            (
                f"alter role {q(login.user)} with login nosuperuser nocreatedb nocreaterole"
                " inherit password %s",
                (Secret(login.user, login.password),),
            )
        )
        if login.group:
            out.append((f"grant {q(login.group)} to {q(login.user)}", None))
    out += [
        (f"revoke all on database {q(database)} from public", None),
        (f"grant connect, temporary on database {q(database)} to {groups}", None),
        (f"grant create on database {q(database)} to {q(LOADER)}, {q(TRANSFORMER)}", None),
        ("revoke all on schema public from public", None),
        (
            f"alter default privileges for role {loader}"
            f" grant usage on schemas to {q(TRANSFORMER)}",
            None,
        ),
        (
            f"alter default privileges for role {loader}"
            f" grant select on tables to {q(TRANSFORMER)}",
            None,
        ),
    ]
    if adopt_existing:
        out.append((_ADOPT, (users[LOADER].user, users[TRANSFORMER].user, PSEUDONYMISATION_SCHEMA)))
    out += [
        (_GRANT_EXISTING_RAW, (users[LOADER].user, TRANSFORMER)),
        (f"create schema if not exists {schema}", None),
        (f"revoke all on schema {schema} from public", None),
        (_PSEUDONYMISATION.format(schema=schema), None),
        (_KEY.format(schema=schema), None),
        (f"revoke all on function {schema}.pseudonymise(text) from public", None),
        (f"grant usage on schema {schema} to {q(TRANSFORMER)}", None),
        (f"grant execute on function {schema}.pseudonymise(text) to {q(TRANSFORMER)}", None),
    ]
    del transformer
    return out


def _quoted(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


_CREATE_ROLE_IF_MISSING = """
do $$ begin
    if not exists (select from pg_roles where rolname = %s) then
        execute %s;
    end if;
end $$
"""
"""A role is created once; ``alter role`` then sets what it may do."""

_GRANT_EXISTING_RAW = """
do $$
declare
    loader text := %s;
    reader text := %s;
    item record;
begin
    for item in select nspname from pg_namespace where pg_get_userbyid(nspowner) = loader loop
        execute format('grant usage on schema %%I to %%I', item.nspname, reader);
        execute format('grant select on all tables in schema %%I to %%I', item.nspname, reader);
    end loop;
end $$
"""
"""What the loader built before the default privileges existed, readable too."""

_ADOPT = """
do $$
declare
    loader text := %s;
    transformer text := %s;
    item record;
begin
    for item in
        select nspname, case when nspname like 'raw\\_%%' then loader else transformer end as owner
        from pg_namespace
        where nspname not in ('public', 'information_schema', %s)
          and nspname not like 'pg\\_%%'
          and pg_get_userbyid(nspowner) <> case
              when nspname like 'raw\\_%%' then loader else transformer end
    loop
        execute format('alter schema %%I owner to %%I', item.nspname, item.owner);
    end loop;
    for item in
        select n.nspname, c.relname, c.relkind, pg_get_userbyid(n.nspowner) as owner
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        where c.relkind in ('r', 'v', 'm', 'p')
          and pg_get_userbyid(c.relowner) <> pg_get_userbyid(n.nspowner)
          and pg_get_userbyid(n.nspowner) in (loader, transformer)
    loop
        execute format(
            'alter %%s %%I.%%I owner to %%I',
            case item.relkind when 'v' then 'view' when 'm' then 'materialized view'
                else 'table' end,
            item.nspname, item.relname, item.owner
        );
    end loop;
end $$
"""
"""Schemas an older version built as the superuser go to the user that builds them now (raw to
the loader's, the rest to the transformer's), with their tables and views."""

_PSEUDONYMISATION = """
create table if not exists {schema}.hmac_key (
    singleton boolean primary key default true check (singleton),
    inner_key bytea not null,
    outer_key bytea not null
);
revoke all on {schema}.hmac_key from public;
create or replace function {schema}.pseudonymise(value text) returns text
language sql stable strict security definer
set search_path = pg_catalog
as $fn$
    select encode(
        sha256(key.outer_key || sha256(key.inner_key || convert_to(value, 'UTF8'))), 'hex'
    )
    from {schema}.hmac_key as key
$fn$
"""
"""HMAC-SHA256 (RFC 2104) from Postgres's own ``sha256``: the key, padded to the hash's block of
64 bytes and xored with the inner and outer pads, is stored ready to use."""

_KEY = """
do $$
declare
    key bytea := decode(
        replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
        || repeat('00', 32),
        'hex'
    );
    inner_key bytea := key;
    outer_key bytea := key;
begin
    if exists (select from {schema}.hmac_key) then
        return;
    end if;
    for position in 0..63 loop
        inner_key := set_byte(inner_key, position, get_byte(key, position) # 54);
        outer_key := set_byte(outer_key, position, get_byte(key, position) # 92);
    end loop;
    insert into {schema}.hmac_key (inner_key, outer_key) values (inner_key, outer_key);
end $$
"""
"""A random key, made once, inside the database (two random UUIDs: 244 random bits)."""


def apply(admin: WarehouseSettings, environ: Mapping[str, str] | None = None) -> None:
    """Create the roles, users and privileges in the warehouse database as ``admin``, and the
    Dagster storage database owned by its user."""
    from warehouse.connection import connect

    users = logins(environ)
    conn = connect(admin)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("select pg_advisory_xact_lock(hashtext('warehouse roles'))")
            for statement, params in statements(
                admin.database, users, adopt_existing=admin.embedded
            ):
                values = tuple(
                    value.value if isinstance(value, Secret) else value for value in params or ()
                )
                cursor.execute(statement, values if params is not None else None)
    finally:
        conn.close()
    _ensure_dagster_database(admin, users[DAGSTER].user)


def _ensure_dagster_database(admin: WarehouseSettings, owner: str) -> None:
    from warehouse.connection import connect

    conn = connect(admin, "postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("select 1 from pg_database where datname = %s", (DAGSTER_DATABASE,))
            if not cursor.fetchone():
                cursor.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(DAGSTER_DATABASE), sql.Identifier(owner)
                    )
                )
            cursor.execute(
                sql.SQL("revoke all on database {} from public").format(
                    sql.Identifier(DAGSTER_DATABASE)
                )
            )
    finally:
        conn.close()


def script(database: str, environ: Mapping[str, str] | None = None) -> str:
    """The same SQL as :func:`apply`, for psql, with each password as a psql variable
    (``-v dbt_password=...``) instead of its value."""
    users = logins(environ)
    variables = [f"{login.user}_password" for login in users.values()]
    lines = [
        "-- Least-privilege roles for the warehouse database "
        f"{database!r} (generated by `python -m warehouse roles --sql`).",
        "-- Run as a superuser: psql "
        + " ".join(f"-v {name}=..." for name in variables)
        + f" -d {database} -f this.sql",
        "\\set ON_ERROR_STOP on",
    ]
    for statement, params in statements(database, users):
        if params is None:
            lines.append(statement.strip() + ";")
            continue
        literals = tuple(
            f":'{value.user}_password'"
            if isinstance(value, Secret)
            else "'" + value.replace("'", "''") + "'"
            for value in params
        )
        lines.append((statement.strip() % literals) + ";")
    owner = users[DAGSTER].user
    lines += [
        f"select 'create database {DAGSTER_DATABASE} owner {_quoted(owner)}'"
        f" where not exists (select from pg_database where datname = '{DAGSTER_DATABASE}')",
        "\\gexec",
        f"revoke all on database {DAGSTER_DATABASE} from public;",
    ]
    return "\n".join(lines) + "\n"
