"""Sensors: a new file in a load's bucket starts that load.

Each file is requested once: the run key is the file's name and modification time (Dagster
never starts two runs with one key), and the cursor holds the newest modification time seen,
so the next tick lists only what arrived since. A file rewritten later has a new time and is
requested again; the load then reports it as changed after loading instead of loading it twice.

The run loads the files and then builds what dbt has downstream of them, in one job: an
explicit job rather than declarative automation, so a new file's whole path to the marts is one
run to read in the UI, and it needs no automation daemon.
"""

import json
from collections.abc import Iterable
from typing import Any

from dagster import RunRequest, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from ingestion.files import FilesLoad
from orchestration.resources import WarehouseResource


def files_since(
    listing: Iterable[tuple[str, str]], cursor: str | None
) -> tuple[list[tuple[str, str]], str | None]:
    """The ``(modified, name)`` pairs of ``listing`` newer than ``cursor``, oldest first, and the
    cursor after them (``None`` when nothing is new). Modification times are ISO 8601 text."""
    state = json.loads(cursor) if cursor else {}
    seen_until = state.get("modified_after", "")
    seen_at_newest = set(state.get("names_at_newest", []))
    new_files = sorted(
        (modified, name)
        for modified, name in listing
        if modified > seen_until or (modified == seen_until and name not in seen_at_newest)
    )
    if not new_files:
        return [], None
    newest = new_files[-1][0]
    names_at_newest = {name for modified, name in new_files if modified == newest}
    if newest == seen_until:
        names_at_newest |= seen_at_newest
    return new_files, json.dumps(
        {"modified_after": newest, "names_at_newest": sorted(names_at_newest)}
    )


def new_files_sensor(load: FilesLoad, job: Any) -> SensorDefinition:
    """A sensor requesting one run of ``job`` per file that appears (or changes) in the bucket
    of ``load``."""

    @sensor(name=f"new_{load.name}_files", job=job, minimum_interval_seconds=60)
    def new_files(context: SensorEvaluationContext, warehouse: WarehouseResource):
        """Request one load per file that appeared (or changed) since the last tick."""
        listing = (
            (file["modification_date"].isoformat(), file["relative_path"])
            for file in load.list_files()
        )
        new, cursor = files_since(listing, context.cursor)
        if not new:
            return SkipReason(f"no new files in the {load.name} bucket")
        for modified, name in new:
            yield RunRequest(run_key=f"{name}@{modified}", tags={f"{load.name}/file": name})
        context.update_cursor(cursor)

    return new_files
