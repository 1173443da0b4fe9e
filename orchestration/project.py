"""The dbt project as Dagster sees it, and the one place that decides the target."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtProject

from warehouse.paths import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
"""The dbt installed beside this Python, whether or not the virtualenv is on PATH."""

TARGETS = ("dev", "prod")
"""The targets of dbt_project/profiles.yml, each with its Dagster resources."""


def dbt_target(environ: Mapping[str, str] | None = None) -> str:
    """``DBT_TARGET`` (default ``dev``): dbt's target and which resources Dagster uses."""
    target = (os.environ if environ is None else environ).get("DBT_TARGET") or "dev"
    if target not in TARGETS:
        raise ValueError(f"DBT_TARGET must be one of {', '.join(TARGETS)}, got {target!r}")
    return target


class VirtualenvDbtPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (``dbt parse`` when a development command such as ``dg dev``,
    ``dg check defs`` or ``dg launch`` loads the code), finding the dbt installed beside this
    Python: dg runs the code with the project's virtualenv, which need not be on PATH."""

    def prepare(self, project: DbtProject) -> None:
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.pathsep.join([str(Path(DBT_EXECUTABLE).parent), path])
        try:
            super().prepare(project)
        finally:
            os.environ["PATH"] = path


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=dbt_target(),
    # dbt's own variable, so a hand-run dbt and Dagster agree on where the manifest is.
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)
# Under `dg` (and `dagster dev`) this runs `dbt parse` so edits to SQL show up on reload (the
# dagster-dbt scaffold's convention); everywhere else the manifest must already exist (`make
# manifest`), so loading the definitions never parses the project.
VirtualenvDbtPreparer().prepare_if_dev(dbt_project)
