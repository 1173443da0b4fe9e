"""A dbt plugin: before a dbt command that needs the warehouse, check that it answers.

dbt loads every installed top-level module whose name starts with ``dbt_`` and instantiates the
classes in its ``plugins`` list. Without this check, a stopped embedded server surfaces as a raw
libpq "connection refused"; with it, an analyst running ``dbt build`` by hand reads one line that
says to run ``make db-up`` (or which PG* variable to fix).
"""

from __future__ import annotations

from dbt.flags import get_flags
from dbt.plugins.manager import dbtPlugin
from dbt_common.exceptions import DbtRuntimeError

PROJECT_NAME = "elt_platform"

COMMANDS_THAT_QUERY = frozenset(
    {
        "build",
        "clone",
        "freshness",
        "generate",
        "retry",
        "run",
        "run-operation",
        "seed",
        "show",
        "snapshot",
        "test",
    }
)
"""dbt commands (``flags.WHICH``) that need the warehouse. ``compile`` is left out: with
``--no-introspect`` it runs without a database, and tools that render SQL (e.g. sqlfluff's dbt
templater) call it under that name."""


class WarehousePreflight(dbtPlugin):
    """Fails fast, in one line, when the warehouse cannot be reached."""

    def initialize(self) -> None:
        if self.project_name != PROJECT_NAME:
            return
        if getattr(get_flags(), "WHICH", None) not in COMMANDS_THAT_QUERY:
            return
        from warehouse.connection import WarehouseUnavailable, check_connection
        from warehouse.settings import SettingsError, load_settings

        try:
            check_connection(load_settings())
        except (SettingsError, WarehouseUnavailable) as error:
            raise DbtRuntimeError(str(error)) from None


plugins = [WarehousePreflight]
