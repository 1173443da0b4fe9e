"""dagster-dbt asks ``dbt --version`` in a subprocess in every process, before its first dbt
command (about 2.5 s per step and per ``dg`` command, and dbt's version check asks the package
index): the dbt beside this Python is asked nothing."""

from importlib import metadata

import dagster_dbt.core.resource
import pytest
from packaging import version

from orchestration.project import (
    PARSE_STAMP,
    InstalledDbtCliResource,
    VirtualenvDbtPreparer,
    dbt_project,
)
from orchestration.resources import resources


@pytest.fixture
def no_dbt_version(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", refuse)


def test_the_installed_dbt_core_is_not_asked_its_version(no_dbt_version):
    assert resources("dev")["dbt"]._cli_version == version.parse(metadata.version("dbt-core"))


def test_dg_parses_the_project_without_asking_dbt_its_version(no_dbt_version, dbt_manifest):
    # Without the stamp of an earlier parse through dg, the project is parsed.
    (dbt_manifest.parent / PARSE_STAMP).unlink(missing_ok=True)
    before = dbt_manifest.stat().st_mtime_ns

    VirtualenvDbtPreparer().prepare(dbt_project)

    assert dbt_manifest.stat().st_mtime_ns > before


def test_another_dbt_executable_is_still_asked(tmp_path):
    other = tmp_path / "dbt"
    other.write_text("#!/bin/sh\necho 'dbt-fusion 2.0.0-preview.1'\n")
    other.chmod(0o755)

    dbt = InstalledDbtCliResource(project_dir=dbt_project, dbt_executable=str(other))

    assert dbt._cli_version == version.parse("2.0.0")
