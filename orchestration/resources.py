"""The resources every asset, check and sensor uses, chosen by one variable: ``DBT_TARGET``.

``dev`` (the default) is the embedded server, or whatever the standard PG* variables name, with
the defaults of ``warehouse/settings.py``. ``prod`` reads every connection field and the payments
token through ``EnvVar``, so a missing one stops a run with its name, and the values never enter
Dagster's stored config or its UI. dbt uses the same variables (``dbt_project/profiles.yml``) and
the target of the same name.
"""

import os

from dagster import ConfigurableResource, EnvVar
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.project import DBT_EXECUTABLE, dbt_project
from warehouse.settings import WarehouseSettings, load_settings

TARGET = os.environ.get("DBT_TARGET", "dev")


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


class PaymentsApiResource(ConfigurableResource):
    """The payments API's bearer token (its URL is dlt config: ``[sources.payments] base_url``)."""

    token: str


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


def resources(target: str = TARGET) -> dict[str, object]:
    """Every resource for ``target`` (``dev`` or ``prod``)."""
    return {
        "dbt": DbtCliResource(
            project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE, target=target
        ),
        "dlt": DagsterDltResource(),
        "warehouse": warehouse_resource(target),
        "payments_api": PaymentsApiResource(token=EnvVar("SOURCES__PAYMENTS__API_TOKEN")),
    }
