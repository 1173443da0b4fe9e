"""The resources every asset, check and sensor uses, chosen by the target (``dbt_target()``).

``dev`` (the default) is the embedded server, or whatever the standard PG* variables (or
``WAREHOUSE_URL``) name, with the defaults of ``warehouse/settings.py``. ``prod`` reads every
connection field through ``EnvVar``, so a missing one stops a run with its name, and the values
never enter Dagster's stored config or its UI.

Each tool connects as its own least-privilege user (``warehouse/roles.py``): the loads and their
checks as the loader (``warehouse``), dbt as the transformer, on the same server: dbt's
environment gets the transformer resource's PG* variables, so loads and models never disagree.

Sources' own settings (credentials, URLs, buckets) are not resources: dlt reads them from its
configuration, ``SOURCES__<NAME>__<KEY>`` or ``.dlt/secrets.toml``, when a run starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from dagster import ConfigurableResource, EnvVar
from dagster_dlt import DagsterDltResource

from orchestration.project import (
    DBT_EXECUTABLE,
    InstalledDbtCliResource,
    dbt_project,
    dbt_target,
)
from warehouse.settings import (
    LOADER,
    ROLES,
    TRANSFORMER,
    WarehouseSettings,
    libpq_env,
    load_settings,
)


class WarehouseResource(ConfigurableResource):
    """The warehouse PostgreSQL, as the user of ``role``. Fields left unset come from
    ``warehouse/settings.py``."""

    role: str = LOADER
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None

    def settings(self) -> WarehouseSettings:
        fields = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }
        given = {name: value for name, value in fields.items() if value is not None}
        if "host" in given:
            given["embedded"] = False
        return replace(load_settings(os.environ, self.role), **given)


class WarehouseDbtCliResource(InstalledDbtCliResource):
    """dbt, connected to the server of the ``warehouse`` resource: its PG* variables are the
    environment of every dbt command (``dbt_project/profiles.yml`` reads them)."""

    warehouse: WarehouseResource

    def cli(self, args: Any, **kwargs: Any) -> Any:
        with _environment(libpq_env(self.warehouse.settings())):
            return super().cli(args, **kwargs)


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``variables`` set while dbt starts (it reads the environment it is started with)."""
    saved = {name: os.environ.get(name) for name in ("PGHOST", *variables)}
    os.environ.pop("PGHOST", None)
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def warehouse_resource(target: str, role: str = LOADER) -> WarehouseResource:
    """The warehouse as ``role``: in ``prod`` every field through ``EnvVar``."""
    if target == "dev":
        return WarehouseResource(role=role)
    user_variable, password_variable = ROLES[role].user_variable, ROLES[role].password_variable
    return WarehouseResource(
        role=role,
        host=EnvVar("PGHOST"),
        port=EnvVar.int("PGPORT"),
        user=EnvVar(user_variable),
        password=EnvVar(password_variable),
        database=EnvVar("PGDATABASE"),
    )


def resources(target: str | None = None) -> dict[str, object]:
    """Every resource for ``target`` (default: :func:`dbt_target`)."""
    target = target or dbt_target()
    return {
        "dbt": WarehouseDbtCliResource(
            project_dir=dbt_project,
            dbt_executable=DBT_EXECUTABLE,
            target=target,
            warehouse=warehouse_resource(target, TRANSFORMER),
        ),
        "dlt": DagsterDltResource(),
        "warehouse": warehouse_resource(target, LOADER),
    }
