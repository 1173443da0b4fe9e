"""Where the platform keeps its local files: one data folder, one subfolder per tool.

``PLATFORM_DATA_DIR`` (default: the project's git-ignored ``data/``) holds the embedded
PostgreSQL server's data, dlt's pipeline state and Dagster's run history. None of this says where
the warehouse or any source system is: connections are :mod:`warehouse.settings` and each source's
own configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PlatformPaths:
    """The data folder and the subfolder each tool writes to."""

    data_dir: Path

    @property
    def postgres_dir(self) -> Path:
        """The embedded server's data folder (PGDATA)."""
        return self.data_dir / "postgres"

    @property
    def dlt_dir(self) -> Path:
        """Where dlt keeps each pipeline's local state and load packages."""
        return self.data_dir / "dlt"

    @property
    def logs_dir(self) -> Path:
        """The full logs of ``make run`` and ``make load``, one file per run."""
        return self.data_dir / "logs"


def platform_paths(environ: Mapping[str, str] | None = None) -> PlatformPaths:
    """The platform's folders, from ``PLATFORM_DATA_DIR`` in ``environ`` (default: the process
    environment)."""
    env = os.environ if environ is None else environ
    return PlatformPaths(Path(env.get("PLATFORM_DATA_DIR") or PROJECT_ROOT / "data").resolve())
