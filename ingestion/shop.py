"""The shop's operational database into ``raw_shop``, with dlt's ``sql_database`` source.

Each table is merged on its primary key, so a rerun updates rows in place and never duplicates
them.
"""

from __future__ import annotations

import dlt
from dlt.sources import DltSource
from dlt.sources.sql_database import sql_database

from ingestion.pipelines import warehouse_pipeline
from warehouse.settings import SHOP_DATABASE, WarehouseSettings

DATASET_NAME = "raw_shop"

PRIMARY_KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}
"""The tables we load and their keys, stated rather than reflected so merges never fall back to
appends when reflection is deferred."""


def shop_source(settings: WarehouseSettings) -> DltSource:
    """The shop database's tables as dlt resources, one per table, merged on primary key.

    Table reflection is deferred to extraction, so building the source never connects: Dagster
    can load its definitions while the database is down.
    """
    source = sql_database.with_args(name="shop")(
        credentials=settings.url(SHOP_DATABASE, driver="psycopg2"),
        schema="public",
        table_names=list(PRIMARY_KEYS),
        defer_table_reflect=True,
    )
    for table, primary_key in PRIMARY_KEYS.items():
        source.resources[table].apply_hints(primary_key=primary_key, write_disposition="merge")
    return source


def shop_pipeline(settings: WarehouseSettings) -> dlt.Pipeline:
    """The pipeline that loads :func:`shop_source` into ``raw_shop``."""
    return warehouse_pipeline("shop", DATASET_NAME, settings)
