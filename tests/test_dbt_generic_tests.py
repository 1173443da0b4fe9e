"""Our generic tests (dbt_project/tests/generic) behave as dbt_utils' tests of the same name do,
and ``keeps_up_with`` as documented: each one passes on rows that keep its rule and fails on rows
that break it, on a real PostgreSQL.

A copy of the project gets a folder of small models, each test applied under names that say the
outcome expected (``passes_...``, ``fails_...``); the folder is built and tested, then every
outcome is compared with its name.
"""

from __future__ import annotations

import json

import pytest
from helpers import project_copy, run_dbt_in_copy

VERSIONS = """
select * from (values
    (1, 1, date '2026-01-01', date '2026-01-05'),
    (1, 2, date '2026-01-05', null),
    (2, 1, date '2026-01-01', date '2026-01-02'),
    (2, 2, date '2026-01-03', null)
) as versions (key_id, version, valid_from, valid_to)
"""
"""Two keys with two versions each; key 2 has a day's gap between its versions."""

CASES = {
    "models/generic_test_cases/case_versions.sql": VERSIONS,
    "models/generic_test_cases/case_versions_copy.sql": (
        "select * from {{ ref('case_versions') }}\n"
    ),
    "models/generic_test_cases/case_versions_rekeyed.sql": (
        "select 1 as key_id, version from {{ ref('case_versions') }} where key_id = 1\n"
        "union all select key_id, version from {{ ref('case_versions') }} where key_id = 2"
        " and version = 1\n"
        "union all select 1, 3\n"
    ),
    "models/generic_test_cases/case_overlapping_versions.sql": (
        "select * from (values (1, date '2026-01-01', date '2026-01-05'),"
        " (1, date '2026-01-04', cast(null as date))) as versions (key_id, valid_from, valid_to)\n"
    ),
    "models/generic_test_cases/case_loads.sql": (
        "select current_timestamp as loaded_at,"
        " timestamp '2000-01-01 00:00:00' as loaded_long_ago\n"
    ),
    # dlt's load ids: the newest, one 2.8 hours before it, one 11.6 days before it.
    "models/generic_test_cases/case_events_null_in_an_old_load.sql": (
        "select * from (values ('e1', '1764000000.5'), ('e2', '1763990000.1'),"
        " (null, '1763000000.1')) as events (event_id, _dlt_load_id)\n"
    ),
    "models/generic_test_cases/case_events_null_in_a_recent_load.sql": (
        "select * from (values ('e1', '1764000000.5'), (null, '1763990000.1'),"
        " ('e3', '1763000000.1')) as events (event_id, _dlt_load_id)\n"
    ),
    "models/generic_test_cases/_generic_test_cases.yml": """
version: 2

models:
  - name: case_versions
    columns:
      - name: version
        data_tests:
          - expression_is_true:
              name: passes_expression_is_true_on_a_column
              arguments: {expression: "between 1 and 2"}
          - expression_is_true:
              name: fails_expression_is_true_on_a_column
              arguments: {expression: "= 1"}
    data_tests:
      - unique_combination_of_columns:
          name: passes_unique_combination_of_columns
          arguments: {combination_of_columns: [key_id, version]}
      - unique_combination_of_columns:
          name: fails_unique_combination_of_columns
          arguments: {combination_of_columns: [key_id], quote_columns: true}
      - expression_is_true:
          name: passes_expression_is_true
          arguments: {expression: "valid_from < coalesce(valid_to, date '9999-12-31')"}
      - expression_is_true:
          name: fails_expression_is_true
          arguments: {expression: "version = 1"}
      - equal_rowcount:
          name: passes_equal_rowcount
          arguments: {compare_model: ref('case_versions_copy')}
      - equal_rowcount:
          name: fails_equal_rowcount
          arguments: {compare_model: ref('case_overlapping_versions')}
      - equal_rowcount:
          name: passes_equal_rowcount_in_total
          arguments: {compare_model: ref('case_versions_rekeyed')}
      - equal_rowcount:
          name: fails_equal_rowcount_by_group
          arguments: {compare_model: ref('case_versions_rekeyed'), group_by_columns: [key_id]}
      - mutually_exclusive_ranges:
          name: passes_mutually_exclusive_ranges
          arguments:
            lower_bound_column: valid_from
            upper_bound_column: coalesce(valid_to, date '9999-12-31')
            partition_by: key_id
      - mutually_exclusive_ranges:
          name: fails_mutually_exclusive_ranges_without_gaps
          arguments:
            lower_bound_column: valid_from
            upper_bound_column: coalesce(valid_to, date '9999-12-31')
            partition_by: key_id
            gaps: not_allowed
      - mutually_exclusive_ranges:
          name: fails_mutually_exclusive_ranges_with_an_open_end
          arguments: {lower_bound_column: valid_from, upper_bound_column: valid_to}

  - name: case_overlapping_versions
    data_tests:
      - mutually_exclusive_ranges:
          name: fails_mutually_exclusive_ranges_overlapping
          arguments:
            lower_bound_column: valid_from
            upper_bound_column: coalesce(valid_to, date '9999-12-31')
            partition_by: key_id

  - name: case_loads
    data_tests:
      - recency:
          name: passes_recency
          arguments: {field: loaded_at, datepart: day, interval: 1}
      - recency:
          name: fails_recency
          arguments: {field: loaded_long_ago, datepart: day, interval: 1}
      - keeps_up_with:
          name: passes_keeps_up_with
          arguments:
            field: loaded_at
            compare_model: ref('case_versions')
            compare_field: valid_from
            datepart: day
            interval: 1
      - keeps_up_with:
          name: fails_keeps_up_with
          arguments:
            field: loaded_long_ago
            compare_model: ref('case_versions')
            compare_field: valid_from
            datepart: day
            interval: 1

  - name: case_events_null_in_an_old_load
    columns:
      - name: event_id
        data_tests:
          - not_null:
              name: passes_not_null_on_recent_loads
              config: {where: "__recent_loads__"}

  - name: case_events_null_in_a_recent_load
    columns:
      - name: event_id
        data_tests:
          - not_null:
              name: fails_not_null_on_recent_loads
              config: {where: "__recent_loads__"}
""",
}


@pytest.fixture(scope="module")
def project(warehouse, tmp_path_factory):
    """A copy of the project with the cases, built."""
    project = project_copy(tmp_path_factory.mktemp("generic-tests"), CASES)
    run = run_dbt_in_copy(project, "run", "--select", "path:models/generic_test_cases")
    assert run.returncode == 0, run.stdout[-3000:]
    return project


@pytest.fixture(scope="module")
def outcomes(project) -> dict[str, str]:
    """Each case's test name and status after ``dbt run`` and ``dbt test`` of the cases (not
    ``build``: a failing case would skip the models built after it)."""
    run_dbt_in_copy(project, "test", "--select", "path:models/generic_test_cases")
    return statuses_of_tests(project)


def statuses_of_tests(project) -> dict[str, str]:
    results = json.loads((project.parent / "target" / "run_results.json").read_text())
    return {
        result["unique_id"].split(".")[2]: result["status"]
        for result in results["results"]
        if result["unique_id"].startswith("test.")
    }


def test_every_case_has_run(outcomes):
    expected = CASES["models/generic_test_cases/_generic_test_cases.yml"].count("name: passes_")
    expected += CASES["models/generic_test_cases/_generic_test_cases.yml"].count("name: fails_")

    assert len(outcomes) == expected, outcomes


@pytest.mark.parametrize(
    "test_name",
    [
        "unique_combination_of_columns",
        "expression_is_true",
        "expression_is_true_on_a_column",
        "equal_rowcount",
        "equal_rowcount_in_total",
        "mutually_exclusive_ranges",
        "recency",
        "keeps_up_with",
        "not_null_on_recent_loads",
    ],
)
def test_the_test_passes_on_rows_that_keep_its_rule(outcomes, test_name):
    assert outcomes[f"passes_{test_name}"] == "pass"


@pytest.mark.parametrize(
    "test_name",
    [
        "unique_combination_of_columns",
        "expression_is_true",
        "expression_is_true_on_a_column",
        "equal_rowcount",
        "equal_rowcount_by_group",
        "mutually_exclusive_ranges_without_gaps",
        "mutually_exclusive_ranges_with_an_open_end",
        "mutually_exclusive_ranges_overlapping",
        "recency",
        "keeps_up_with",
        "not_null_on_recent_loads",
    ],
)
def test_the_test_fails_on_rows_that_break_its_rule(outcomes, test_name):
    assert outcomes[f"fails_{test_name}"] == "fail"


@pytest.mark.parametrize(
    "how",
    [("test", "--vars", "{test_all_rows: true}"), ("build", "--full-refresh")],
    ids=["test_all_rows", "full_refresh"],
)
def test_a_test_on_recent_loads_checks_every_load_when_asked(outcomes, project, how):
    command, *options = how
    run_dbt_in_copy(project, command, "--select", "case_events_null_in_an_old_load", *options)

    assert statuses_of_tests(project)["passes_not_null_on_recent_loads"] == "fail"
