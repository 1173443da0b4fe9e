"""The dbt project as Dagster sees it, and the one place that decides the target."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import cached_property
from importlib import metadata
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject
from packaging import version

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


class InstalledDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, for the dbt installed beside this Python (``DBT_EXECUTABLE``).

    dagster-dbt runs ``dbt --version`` in a subprocess once per process, before its first dbt
    command: about 2.5 s per step process (and per ``dg`` command), and dbt's version check asks
    the package index, a 1 s timeout per plugin where there is no internet. That dbt is the
    installed dbt-core, whose version is known here; another executable (dbt Fusion, another
    virtualenv's dbt) is still asked.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(DBT_EXECUTABLE):
            return version.parse(metadata.version("dbt-core"))
        return super()._cli_version


class VirtualenvDbtPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (``dbt parse`` when a development command such as ``dg dev``,
    ``dg check defs`` or ``dg launch`` loads the code), with the dbt installed beside this
    Python: dg runs the code with the project's virtualenv, which need not be on PATH."""

    def prepare(self, project: DbtProject) -> None:
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.pathsep.join([str(Path(DBT_EXECUTABLE).parent), path])
        try:
            super().prepare(project)
        finally:
            os.environ["PATH"] = path

    def _prepare_manifest(self, project: DbtProject) -> None:
        """dagster-dbt's, with :class:`InstalledDbtCliResource` in place of its own resource."""
        parse = InstalledDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
        parse.cli(self._prepare_project_cli_args, target_path=project.target_path).wait()
        self._invalidate_seeds_in_partial_parse(project)


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
