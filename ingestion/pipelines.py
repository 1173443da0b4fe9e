"""What every pipeline shares: the warehouse destination and where dlt keeps its local state."""

from __future__ import annotations

import dlt
from dlt.destinations import postgres

from warehouse.settings import WarehouseSettings


def warehouse_pipeline(name: str, dataset_name: str, settings: WarehouseSettings) -> dlt.Pipeline:
    """A dlt pipeline ``name`` loading into the ``dataset_name`` schema of the warehouse."""
    return dlt.pipeline(
        pipeline_name=name,
        destination=postgres(credentials=settings.url()),
        dataset_name=dataset_name,
        pipelines_dir=str(settings.dlt_pipelines_dir),
    )
