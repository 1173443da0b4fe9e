"""Each dg command parses the dbt project again (dagster-dbt's prepare_if_dev): skipped when
nothing the parse reads changed since it last wrote the manifest."""

import json
import os
import shutil

import pytest
from dagster_dbt import DbtProject

from orchestration.project import (
    DBT_PROJECT_DIR,
    PARSE_STAMP,
    InstalledDbtCliResource,
    VirtualenvDbtPreparer,
    parse_stamp,
)


@pytest.fixture
def project(tmp_path):
    """A copy of the dbt project with a manifest of its own, so its files can be touched."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    return DbtProject(project_dir=copy, profiles_dir=copy, target_path=target)


def touch(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_the_stamp_is_the_same_when_nothing_changed(project):
    environ = {"DBT_TARGET": "dev"}

    assert parse_stamp(project, environ) == parse_stamp(project, environ)


def test_an_edited_model_changes_the_stamp(project):
    before = parse_stamp(project, {})
    touch(next(project.project_dir.glob("models/marts/core/*.sql")))

    assert parse_stamp(project, {}) != before


@pytest.mark.parametrize(
    "variable",
    # Read with env_var() by profiles.yml and generate_schema_name, or one of dbt's own.
    ["DBT_TARGET", "PGHOST", "DBT_SCHEMA", "DBT_PROFILES_DIR"],
)
def test_a_variable_the_parse_reads_changes_the_stamp(project, variable):
    assert parse_stamp(project, {variable: "a"}) != parse_stamp(project, {variable: "b"})


def test_secrets_and_unrelated_variables_change_nothing_and_are_not_written(project):
    stamp = parse_stamp(project, {"PGPASSWORD": "s3cret-one", "HOME": "/a"})

    assert stamp == parse_stamp(project, {"PGPASSWORD": "s3cret-two", "HOME": "/b"})
    assert "s3cret" not in json.dumps(stamp)


def test_a_manifest_written_by_another_parse_changes_the_stamp(project):
    before = parse_stamp(project, {})
    project.manifest_path.write_text('{"nodes": {}}')

    assert parse_stamp(project, {}) != before


def test_a_second_prepare_with_nothing_changed_runs_no_dbt(project, monkeypatch):
    VirtualenvDbtPreparer().prepare(project)
    parsed = project.manifest_path.stat().st_mtime_ns
    assert (project.project_dir / project.target_path / PARSE_STAMP).exists()

    def refuse(*args, **kwargs):
        raise AssertionError("dbt ran")

    monkeypatch.setattr(InstalledDbtCliResource, "cli", refuse)
    VirtualenvDbtPreparer().prepare(project)

    assert project.manifest_path.stat().st_mtime_ns == parsed
