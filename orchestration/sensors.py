"""Sensors: a new file in the landing folder starts the events load.

Each file is requested once: the run key is the file's name and modification time (Dagster
never starts two runs with one key), and the cursor holds the newest modification time seen,
so the next tick lists only what arrived since. A file rewritten later has a new time and is
requested again; the load then reports it as changed after loading instead of loading it twice.

The run loads the landing tables and then builds what dbt has downstream of them, in one job:
an explicit job rather than declarative automation, so a new file's whole path to the marts is
one run to read in the UI, and it needs no automation daemon.
"""

import json

from dagster import RunRequest, SensorEvaluationContext, SkipReason, sensor

from ingestion.landing import list_landing_files
from orchestration.jobs import load_landing_files
from orchestration.resources import WarehouseResource


@sensor(job=load_landing_files, minimum_interval_seconds=60)
def new_landing_files(context: SensorEvaluationContext, warehouse: WarehouseResource):
    """Request one load per file that appeared (or changed) since the last tick."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen_until = cursor.get("modified_after", "")
    seen_at_newest = set(cursor.get("names_at_newest", []))

    new_files = sorted(
        (file["modification_date"].isoformat(), file["relative_path"])
        for file in list_landing_files(warehouse.settings())
        if (modified := file["modification_date"].isoformat()) > seen_until
        or (modified == seen_until and file["relative_path"] not in seen_at_newest)
    )
    if not new_files:
        return SkipReason("no new files in the landing folder")

    for modified, path in new_files:
        yield RunRequest(run_key=f"{path}@{modified}", tags={"landing/file": path})

    newest = new_files[-1][0]
    names_at_newest = {path for modified, path in new_files if modified == newest}
    if newest == seen_until:
        names_at_newest |= seen_at_newest
    context.update_cursor(
        json.dumps({"modified_after": newest, "names_at_newest": sorted(names_at_newest)})
    )
