"""How dlt resources and dbt nodes become Dagster assets.

Every asset that is a table in the warehouse is keyed ``[schema, table]``. dlt writes resource
``customers`` of dataset ``raw_shop`` to ``raw_shop.customers``; the dbt source that reads that
table declares ``schema: raw_shop``; both map to the key ``raw_shop/customers``, so lineage from
dlt into dbt connects with no hand-written list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator
from dagster_dlt import DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

INGESTION_GROUP = "ingestion"
SOURCE_SYSTEM_GROUP = "sources"

SOURCE_SYSTEM_INPUTS = {
    # (dlt source, resource): the source-system assets it reads, when not [source, resource]
    ("landing", "marketing_spend"): [("landing", "marketing")],
    ("landing", "_rejected_lines"): [("landing", "events"), ("landing", "marketing")],
    ("landing", "_rejected_files"): [("landing", "events"), ("landing", "marketing")],
}


def warehouse_table_key(schema: str, table: str) -> AssetKey:
    """The asset key of the warehouse table ``schema.table``."""
    return AssetKey([schema, table])


def source_system_table_key(source_name: str, table: str) -> AssetKey:
    """The asset key of a table in a source system, upstream of the raw table dlt loads it into."""
    return AssetKey([source_name, table])


class WarehouseDltTranslator(DagsterDltTranslator):
    """dlt resources keyed by the raw table they load, downstream of the source system's table."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        default = super().get_asset_spec(data)
        assert data.pipeline is not None, "dlt assets are always built with their pipeline"
        table = data.resource.table_name
        if not isinstance(table, str):
            raise TypeError(f"dlt resource {data.resource.name} must load one fixed table")
        return default.replace_attributes(
            key=warehouse_table_key(data.pipeline.dataset_name, table),
            deps=[
                source_system_table_key(source, name)
                for source, name in SOURCE_SYSTEM_INPUTS.get(
                    (data.resource.source_name, data.resource.name),
                    [(data.resource.source_name, data.resource.name)],
                )
            ],
            group_name=INGESTION_GROUP,
        )


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """dbt nodes keyed by the relation they build; groups from the model's top folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        # A source may name the asset that writes it (a dlt child table is written by its
        # parent's asset): meta.dagster.asset_key, as dagster-dbt's own translator reads it.
        explicit = dbt_resource_props.get("meta", {}).get("dagster", {}).get("asset_key")
        if explicit:
            return AssetKey(explicit)
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
