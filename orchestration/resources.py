"""The resources every asset, check and sensor uses, chosen by the target (``dbt_target()``).

``dev`` (the default) is the embedded server, or whatever the standard PG* variables (or
``WAREHOUSE_URL``) name, with the defaults of ``warehouse/settings.py``. ``prod`` reads every
connection field through ``EnvVar``, so a missing one stops a run with its name, and the values
never enter Dagster's stored config or its UI. dbt connects to the server the ``warehouse``
resource names (its PG* variables are dbt's environment), so loads and models never disagree.

Sources' own settings (credentials, URLs, buckets) are not resources: dlt reads them from its
configuration, ``SOURCES__<NAME>__<KEY>`` or ``.dlt/secrets.toml``, when a run starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.project import DBT_EXECUTABLE, dbt_project, dbt_target
from warehouse.settings import WarehouseSettings, libpq_env, load_settings


class WarehouseResource(ConfigurableResource):
    """The warehouse PostgreSQL. Fields left unset come from ``warehouse/settings.py``."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None

    def settings(self) -> WarehouseSettings:
        fields = {
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.database,
        }
        overrides = {
            variable: str(value) for variable, value in fields.items() if value is not None
        }
        return load_settings({**os.environ, **overrides})


class WarehouseDbtCliResource(DbtCliResource):
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


def warehouse_resource(target: str) -> WarehouseResource:
    if target == "dev":
        return WarehouseResource()
    return WarehouseResource(
        host=EnvVar("PGHOST"),
        port=EnvVar.int("PGPORT"),
        user=EnvVar("PGUSER"),
        password=EnvVar("PGPASSWORD"),
        database=EnvVar("PGDATABASE"),
    )


def resources(target: str | None = None) -> dict[str, object]:
    """Every resource for ``target`` (default: :func:`dbt_target`)."""
    target = target or dbt_target()
    warehouse = warehouse_resource(target)
    return {
        "dbt": WarehouseDbtCliResource(
            project_dir=dbt_project,
            dbt_executable=DBT_EXECUTABLE,
            target=target,
            warehouse=warehouse,
        ),
        "dlt": DagsterDltResource(),
        "warehouse": warehouse,
    }
