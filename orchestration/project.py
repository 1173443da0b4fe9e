"""The dbt project as Dagster sees it, and the warehouse settings read when the definitions load
(runs get theirs from the ``warehouse`` resource, orchestration/resources.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.settings import PROJECT_ROOT, libpq_env, load_settings

settings = load_settings()

if os.environ.get("WAREHOUSE_URL"):
    # dbt's profiles.yml reads the PG* variables; expand the URL so dbt sees the same server.
    os.environ.update(libpq_env(settings))

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
"""The dbt installed beside this Python, whether or not the virtualenv is on PATH."""

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=os.environ.get("DBT_TARGET", "dev"),
    # dbt's own variable, so a hand-run dbt and Dagster agree on where the manifest is.
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)
# Under `dagster dev` this runs `dbt parse` so edits to SQL show up on reload; everywhere else the
# manifest must already exist (`make manifest`), so loading definitions never parses the project.
dbt_project.prepare_if_dev()
