"""How dlt resources and dbt nodes become Dagster assets.

Every asset that is a table in the warehouse is keyed ``[schema, table]``. dlt writes resource
``customers`` of the load ``shop`` to ``raw_shop.customers``; the dbt source that reads that
table declares ``schema: raw_shop``; both map to the key ``raw_shop/customers``, so lineage from
dlt into dbt connects with no hand-written list. What a load reads in its source system is keyed
``[load name, name]`` (``shop/customers``), upstream of the raw tables it feeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.load import Load

INGESTION_GROUP = "ingestion"
SOURCE_SYSTEM_GROUP = "sources"


def warehouse_table_key(schema: str, table: str) -> AssetKey:
    """The asset key of the warehouse table ``schema.table``."""
    return AssetKey([schema, table])


def source_system_key(load_name: str, name: str) -> AssetKey:
    """The asset key of what a load reads in its source system, upstream of its raw tables."""
    return AssetKey([load_name, name])


class WarehouseDltTranslator(DagsterDltTranslator):
    """The resources of ``load`` keyed by the raw table they write, downstream of what they read
    in the source system."""

    def __init__(self, load: Load):
        super().__init__()
        self.load = load

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        default = super().get_asset_spec(data)
        table = data.resource.table_name
        if not isinstance(table, str):
            raise TypeError(f"dlt resource {data.resource.name} must load one fixed table")
        return default.replace_attributes(
            key=warehouse_table_key(self.load.dataset, table),
            deps=[
                source_system_key(self.load.name, name)
                for name in self.load.reads(data.resource.name)
            ],
            group_name=INGESTION_GROUP,
        )


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """dbt nodes keyed by the relation they build; groups from the model's top folder.

    dbt's tests on sources are asset checks on the raw tables they test (the dlt assets, which
    share the source's key), blocking where their severity is error: a duplicated key in
    ``raw_shop.orders`` fails that table's check and stops everything downstream.
    """

    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        relation = dbt_resource_props.get("identifier") or dbt_resource_props.get("alias")
        return warehouse_table_key(
            dbt_resource_props["schema"], relation or dbt_resource_props["name"]
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """A model's top folder (staging, intermediate, marts); seeds and snapshots by type."""
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props["resource_type"] == "model" and len(fqn) > 2:
            return fqn[1]
        return f"{dbt_resource_props['resource_type']}s"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        """dbt's conventional ``meta.owner`` (set per folder in dbt_project.yml) as the owner."""
        return dagster_owners(
            dbt_resource_props.get("meta", {}).get("owner")
        ) or super().get_owners(dbt_resource_props)


def dagster_owners(owner: str | Sequence[str] | None) -> list[str]:
    """dbt ``meta.owner`` values as Dagster owners: an email stays one, a name becomes a team."""
    if not owner:
        return []
    names = [owner] if isinstance(owner, str) else list(owner)
    return [name if "@" in name or name.startswith("team:") else f"team:{name}" for name in names]
