"""Every load the platform runs. The command line, Dagster (assets, upstream source systems,
reconciliation checks, sensors) and the tests all read this list.

Adding a source: its configuration under ``[sources.<name>]`` in ``.dlt/config.toml`` (secrets in
the environment or ``.dlt/secrets.toml``), one entry here, and its dbt YAML
(``models/staging/<name>/_<name>__sources.yml``, schema ``raw_<name>``). A source that speaks a
protocol none of :mod:`ingestion.database`, :mod:`ingestion.api` and :mod:`ingestion.files` knows
gets a module of its own with a :class:`~ingestion.load.Load` subclass.
"""

from __future__ import annotations

from ingestion.api import ApiLoad
from ingestion.database import DatabaseLoad
from ingestion.files import FilesLoad
from ingestion.load import Load

LOADS: tuple[Load, ...] = (
    DatabaseLoad("shop"),
    ApiLoad("payments"),
    FilesLoad("landing"),
)


def loads_named(names: list[str], loads: tuple[Load, ...] = LOADS) -> list[Load]:
    """The loads of ``names`` in registry order (all of them for no names)."""
    known = {load.name: load for load in loads}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise KeyError(f"unknown source {', '.join(unknown)}: choose from {', '.join(known)}")
    return [load for load in loads if not names or load.name in names]
