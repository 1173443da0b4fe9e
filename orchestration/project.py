"""The dbt project as Dagster sees it, and the one place that decides the target."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject
from packaging import version

from warehouse.paths import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
"""The dbt installed beside this Python, whether or not the virtualenv is on PATH."""

PARSE_STAMP = "dagster_parse_stamp.json"
"""Beside the manifest: what the last parse through :class:`VirtualenvDbtPreparer` read."""
NOT_READ_BY_DBT = {"target", "logs", "dbt_packages", "sqlfluff_libs"}
"""Folders of the dbt project that are output, downloads or lint stand-ins, not its source."""
SECRET = re.compile("PASSWORD|SECRET|TOKEN|KEY|CREDENTIALS", re.IGNORECASE)
ENV_VAR_NAME = re.compile(r"""env_var\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")

TARGETS = ("dev", "prod")
"""The targets of dbt_project/profiles.yml, each with its Dagster resources."""


def dbt_target(environ: Mapping[str, str] | None = None) -> str:
    """``DBT_TARGET`` (default ``dev``): dbt's target and which resources Dagster uses."""
    target = (os.environ if environ is None else environ).get("DBT_TARGET") or "dev"
    if target not in TARGETS:
        raise ValueError(f"DBT_TARGET must be one of {', '.join(TARGETS)}, got {target!r}")
    return target


def dbt_var(name: str) -> Any:
    """A variable of the dbt project, as ``dbt_project.yml`` sets it under ``vars:``."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return project["vars"][name]


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

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        """No handle on dbt's adapter in this process. dagster-dbt opens one before every dbt
        command (about a second, and dbt's adapter modules imported) only to fetch metadata
        after it; row counts come from ``with_row_counts`` (``orchestration/assets``) instead."""
        return None


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
        """dagster-dbt's, with :class:`InstalledDbtCliResource` in place of its own resource,
        skipped when nothing the parse reads changed since the manifest was written by it."""
        stamp = Path(project.project_dir) / project.target_path / PARSE_STAMP
        current = project.manifest_path.exists() and stamp.exists()
        if current and json.loads(stamp.read_text()) == parse_stamp(project, os.environ):
            return
        parse = InstalledDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
        parse.cli(self._prepare_project_cli_args, target_path=project.target_path).wait()
        self._invalidate_seeds_in_partial_parse(project)
        stamp.write_text(json.dumps(parse_stamp(project, os.environ)))


def parse_stamp(project: DbtProject, environ: Mapping[str, str]) -> dict[str, str]:
    """What a ``dbt parse`` of ``project`` reads, and the manifest it wrote.

    Each ``dg`` command (``dg launch``, ``dg dev`` and its reloads) parses the project again so
    that edits show up (dagster-dbt's ``prepare_if_dev``): 3 to 5 s of dbt starting up when
    nothing changed. The parse is skipped when the files of the project (their names, sizes and
    modification times), the variables they read with ``env_var()``, the ``DBT_*`` variables,
    dbt's version and the manifest itself are all as they were after the last parse.
    """
    project_dir = Path(project.project_dir)
    files = hashlib.sha256()
    names = set()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        hidden = any(part.startswith(".") for part in relative.parts)
        if hidden or relative.parts[0] in NOT_READ_BY_DBT or not path.is_file():
            continue
        stat = path.stat()
        files.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        if path.suffix in (".yml", ".yaml", ".sql", ".md", ".csv") and stat.st_size < 1 << 20:
            names.update(ENV_VAR_NAME.findall(path.read_text(errors="replace")))
    names.update(name for name in environ if name.startswith("DBT_"))
    # Secrets change no manifest, and not even a hash of one is written down.
    variables = {name: environ.get(name) for name in sorted(names) if not SECRET.search(name)}
    manifest = project.manifest_path.stat() if project.manifest_path.exists() else None
    return {
        "dbt": metadata.version("dbt-core"),
        "files": files.hexdigest(),
        "environment": hashlib.sha256(json.dumps(variables).encode()).hexdigest(),
        "manifest": f"{manifest.st_size}-{manifest.st_mtime_ns}" if manifest else "",
    }


dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=dbt_target(),
    # dbt's own variable, so a hand-run dbt and Dagster agree on where the manifest is.
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)
# Under `dg` (and `dagster dev`) this runs `dbt parse`, unless nothing it reads changed, so edits
# to SQL show up on reload (the dagster-dbt scaffold's convention); everywhere else the manifest
# must already exist (`make manifest`), so loading the definitions never parses the project.
VirtualenvDbtPreparer().prepare_if_dev(dbt_project)
