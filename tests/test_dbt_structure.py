"""Structure rules for the dbt project, read from its manifest: our dbt-project-evaluator.

Each rule is a small pure function from a parsed ``manifest.json`` (or, for where freshness is
set, the project's properties files) to a list of violations, one analyst-readable message each:
the file, what is wrong and how to fix it. The tests run every rule on the real project, and on a
copy with deliberately bad files added, to show that each one bites. ``dbt parse`` is all they
need: no database. (What only a build can show, such as built column types, is checked in
``test_dbt_project.py``.)
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ctes, imported_models, is_float_money_column, parse_project_copy
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from sqlfluff.core import FluffConfig, Linter

from warehouse.paths import PROJECT_ROOT

Manifest = dict[str, Any]
Node = dict[str, Any]
Rule = Callable[[Manifest], list[str]]

LAYER_PREFIXES = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("dim_", "fct_", "rpt_"),
}
STAGING_NAME = re.compile(r"^stg_(?P<source>[a-z0-9]+(?:_[a-z0-9]+)*)__[a-z0-9]+(?:_[a-z0-9]+)*$")
PRIMARY_KEY_PAIR = {"unique", "not_null"}
COMPOUND_KEY_TEST = "unique_combination_of_columns"
DBT_UTILS_GENERIC_TESTS = {
    "accepted_range": ("column_name", "min_value", "max_value", "inclusive"),
    "at_least_one": ("column_name", "group_by_columns"),
    "cardinality_equality": ("column_name", "to", "field"),
    "equal_rowcount": ("compare_model", "group_by_columns"),
    "equality": ("compare_model", "compare_columns", "exclude_columns", "precision"),
    "expression_is_true": ("expression", "column_name"),
    "fewer_rows_than": ("compare_model", "group_by_columns"),
    "mutually_exclusive_ranges": (
        "lower_bound_column",
        "upper_bound_column",
        "partition_by",
        "gaps",
        "zero_length_range_allowed",
    ),
    "not_accepted_values": ("column_name", "values", "quote"),
    "not_constant": ("column_name", "group_by_columns"),
    "not_empty_string": ("column_name", "trim_whitespace"),
    "not_null_proportion": ("column_name", "at_least", "at_most", "group_by_columns"),
    "recency": ("field", "datepart", "interval", "ignore_time_component", "group_by_columns"),
    "relationships_where": ("column_name", "to", "field", "from_condition", "to_condition"),
    "sequential_values": ("column_name", "interval", "datepart", "group_by_columns"),
    "unique_combination_of_columns": ("combination_of_columns", "quote_columns"),
}
"""dbt_utils' generic tests and their arguments (besides ``model``), as of dbt_utils 1.3."""
GENERIC_TEST_SIGNATURE = re.compile(r"\{%-?\s*test\s+(?P<name>\w+)\s*\((?P<arguments>[^)]*)\)")


def project_nodes(manifest: Manifest, resource_type: str) -> list[Node]:
    """This project's nodes of one type, in file order so messages come out stable."""
    project = manifest["metadata"]["project_name"]
    nodes = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == resource_type and node["package_name"] == project
    ]
    return sorted(nodes, key=lambda node: (node["original_file_path"], node["name"]))


def project_sources(manifest: Manifest) -> list[Node]:
    project = manifest["metadata"]["project_name"]
    sources = [s for s in manifest["sources"].values() if s["package_name"] == project]
    return sorted(sources, key=lambda s: (s["original_file_path"], s["source_name"], s["name"]))


def layer_folder(model: Node) -> str | None:
    """The folder right under the model path (``marts`` for models/marts/core/x.sql)."""
    parts = Path(model["path"]).parts
    return parts[0] if len(parts) > 1 else None


def layer_of(model: Node) -> str | None:
    """The model's layer: its folder's, or, for a model outside the layer folders, its prefix's."""
    folder = layer_folder(model)
    if folder in LAYER_PREFIXES:
        return folder
    for layer, prefixes in LAYER_PREFIXES.items():
        if model["name"].startswith(prefixes):
            return layer
    return None


def source_label(manifest: Manifest, unique_id: str) -> str:
    source = manifest["sources"][unique_id]
    return f"{source['source_name']}.{source['name']}"


def yml_hint(node: Node) -> str:
    """Where a fix goes: the .yml that already describes the node, or the one STYLE.md names."""
    if node.get("patch_path"):
        return node["patch_path"].split("://", 1)[-1]
    if node["original_file_path"].endswith((".yml", ".yaml")):
        return node["original_file_path"]
    folder = Path(node["original_file_path"]).parent
    if node["resource_type"] == "model":
        return f"{folder.as_posix()}/_{folder.name}__models.yml"
    return f"a .yml file in {folder.as_posix()}/"


def generic_tests_by_node(manifest: Manifest) -> dict[str, list[Node]]:
    """The generic data tests (unique, not_null, ...) of each node, by the node's unique_id."""
    tests: dict[str, list[Node]] = {}
    for test in manifest["nodes"].values():
        if test["resource_type"] != "test" or not test.get("test_metadata"):
            continue  # Singular tests (tests/*.sql) have no metadata saying what they check.
        attached = test.get("attached_node") or next(iter(test["depends_on"]["nodes"]), None)
        if attached:
            tests.setdefault(attached, []).append(test)
    return tests


def column_checked_by(test: Node) -> str | None:
    return test["test_metadata"]["kwargs"].get("column_name") or test.get("column_name")


def has_primary_key_test(tests: Iterable[Node]) -> bool:
    """``unique`` and ``not_null`` on one column, or ``unique_combination_of_columns``."""
    checks_by_column: dict[str | None, set[str]] = {}
    for test in tests:
        name = test["test_metadata"]["name"]
        if name == COMPOUND_KEY_TEST:
            return True
        checks_by_column.setdefault(column_checked_by(test), set()).add(name)
    return any(
        column and PRIMARY_KEY_PAIR.issubset(checks) for column, checks in checks_by_column.items()
    )


def has_primary_key_constraint(model: Node) -> bool:
    model_level = model.get("constraints", [])
    column_level = [c for column in model["columns"].values() for c in column["constraints"]]
    return any(c["type"] == "primary_key" for c in [*model_level, *column_level])


def models_without_primary_key_test(manifest: Manifest) -> list[str]:
    """Rule: every model has a primary-key test, so duplicated keys fail the build."""
    tests = generic_tests_by_node(manifest)
    violations = []
    for model in project_nodes(manifest, "model"):
        if has_primary_key_test(tests.get(model["unique_id"], [])):
            continue
        # A constraint is DDL, never run by `dbt test`, and Postgres ignores it on views.
        caveat = (
            " (its contract's primary_key constraint does not count: `dbt test` never checks it)"
            if has_primary_key_constraint(model)
            else ""
        )
        violations.append(
            f"{model['path']}: model {model['name']} has no primary-key test{caveat}; add "
            "`unique` and `not_null` under `data_tests:` of its key column, or a model-level "
            f"`unique_combination_of_columns` test for a compound key, in {yml_hint(model)}."
        )
    return violations


def marts_and_intermediates_reading_sources(manifest: Manifest) -> list[str]:
    """Rule: only staging reads sources, so raw data is cleaned in exactly one place."""
    violations = []
    for model in project_nodes(manifest, "model"):
        layer = layer_of(model)
        if layer not in ("marts", "intermediate"):
            continue
        noun = "a mart" if layer == "marts" else "an intermediate model"
        for parent in model["depends_on"]["nodes"]:
            if parent.startswith("source."):
                violations.append(
                    f"{model['path']}: {noun} must not read a source directly (reads source "
                    f"{source_label(manifest, parent)}); select from a staging model with "
                    "ref() instead."
                )
    return violations


def staging_models_not_on_one_source(manifest: Manifest) -> list[str]:
    """Rule: a staging model reads exactly one source table and no other staging model."""
    models = {model["unique_id"]: model for model in project_nodes(manifest, "model")}
    violations = []
    for model in models.values():
        if layer_of(model) != "staging":
            continue
        parents = model["depends_on"]["nodes"]
        for parent in parents:
            if parent in models and layer_of(models[parent]) == "staging":
                violations.append(
                    f"{model['path']}: a staging model must not depend on another staging model "
                    f"(reads {models[parent]['name']}); select from its source with source(), "
                    "and combine staging models downstream in an intermediate model."
                )
        sources = [source_label(manifest, p) for p in parents if p.startswith("source.")]
        if not sources:
            violations.append(
                f"{model['path']}: a staging model must read exactly one source (reads none); "
                "select from its source table with source()."
            )
        elif len(sources) > 1:
            violations.append(
                f"{model['path']}: a staging model must read exactly one source (reads "
                f"{', '.join(sources)}); give each source table its own staging model and join "
                "them in an intermediate model."
            )
    return violations


def sources_read_by_several_models(manifest: Manifest) -> list[str]:
    """Rule: each source table is read by one model, its staging model (dbt-project-evaluator's
    source fanout), so raw is renamed, cast and cleaned once and every other model agrees."""
    readers: dict[str, list[Node]] = {}
    for model in project_nodes(manifest, "model"):
        for parent in model["depends_on"]["nodes"]:
            if parent.startswith("source."):
                readers.setdefault(parent, []).append(model)
    violations = []
    for source_id, models in sorted(readers.items()):
        if len(models) > 1:
            names = ", ".join(model["name"] for model in models)
            source = manifest["sources"][source_id]
            violations.append(
                f"{source['original_file_path']}: source {source_label(manifest, source_id)} is "
                f"read by {len(models)} models ({names}); read it in one staging model and "
                "ref() that everywhere else."
            )
    return violations


RENAME = "rename the file and its .yml entry, or move it to the folder its prefix names."


def naming_problem(model: Node) -> str | None:
    """What is wrong with the model's name or place, and the fix; None when both fit."""
    folder, name = layer_folder(model), model["name"]
    if folder not in LAYER_PREFIXES:
        return (
            "is outside the layer folders; move it under models/staging, models/intermediate "
            "or models/marts."
        )
    if folder == "staging":
        source_folder = Path(model["path"]).parent.name
        match = STAGING_NAME.match(name)
        if not match:
            return (
                "does not match stg_<source>__<entity> (two underscores before the entity); "
                f"rename the file and its .yml entry, e.g. to stg_{source_folder}__<entity>."
            )
        if source_folder != "staging" and match["source"] != source_folder:
            return (
                f"names source {match['source']} but sits in staging/{source_folder}/; "
                f"name it stg_{source_folder}__<entity> or move it to staging/{match['source']}/."
            )
        return None
    prefixes = LAYER_PREFIXES[folder]
    if not name.startswith(prefixes):
        return f"is in {folder}/ so must start with {' or '.join(prefixes)}; {RENAME}"
    return None


def models_named_against_their_folder(manifest: Manifest) -> list[str]:
    """Rule: a model's name says its layer (stg_, int_, dim_/fct_/rpt_) and matches its folder."""
    violations = []
    for model in project_nodes(manifest, "model"):
        problem = naming_problem(model)
        if problem:
            violations.append(f"{model['path']}: model {model['name']} {problem}")
    return violations


def marts_without_enforced_contract(manifest: Manifest) -> list[str]:
    """Rule: every mart has an enforced contract, so BI tools never see a column vanish."""
    violations = []
    for model in project_nodes(manifest, "model"):
        if layer_of(model) != "marts" or model["config"]["contract"]["enforced"]:
            continue
        violations.append(
            f"{model['path']}: a mart needs an enforced contract (contract.enforced is not "
            f"true); add `config: {{contract: {{enforced: true}}}}` to {model['name']} in "
            f"{yml_hint(model)} and give every column a data_type."
        )
    return violations


def has_freshness_threshold(source: Node) -> bool:
    freshness = source.get("freshness") or source["config"].get("freshness") or {}
    thresholds = (freshness.get("warn_after"), freshness.get("error_after"))
    return any(t and t.get("count") is not None and t.get("period") for t in thresholds)


def sources_without_freshness(manifest: Manifest) -> list[str]:
    """Rule: every source table can tell when its loader stopped (`dbt source freshness`)."""
    violations = []
    for source in project_sources(manifest):
        where = f"{source['original_file_path']}: source {source['source_name']}.{source['name']}"
        if not has_freshness_threshold(source):
            violations.append(
                f"{where} has no freshness threshold; set `+freshness:` under `sources:` in "
                "dbt_project.yml, and delete any `freshness` in the source's file overriding it."
            )
        # loaded_at_query is dbt's other way (1.10+) to say when a table was last loaded.
        if not (source.get("loaded_at_field") or source.get("loaded_at_query")):
            violations.append(
                f"{where} has no loaded_at_field; add `config: {{loaded_at_field: ...}}` to the "
                "source, e.g. to_timestamp(_dlt_load_id::double precision) for tables dlt loads."
            )
    return violations


def source_entries(document: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Each source and source table of a YAML properties file, with a label for messages."""
    for source in document.get("sources") or []:
        yield f"source {source['name']}", source
        for table in source.get("tables") or []:
            yield f"source table {source['name']}.{table['name']}", table


def freshness_set_outside_the_project_file(project_dir: Path) -> list[str]:
    """Rule: freshness thresholds are set once, in dbt_project.yml, for every source table.

    A properties file sets none (not even a copy of the same values), and keeps loaded_at_field
    under `config:`, not at the top level dbt deprecates. (dbt 1.11 ignores `+loaded_at_field` in
    dbt_project.yml, so the source's own file is the one place for it.)
    """
    violations = []
    for path in sorted((project_dir / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        where = path.relative_to(project_dir).as_posix()
        for label, entry in source_entries(document):
            if "freshness" in entry or "freshness" in (entry.get("config") or {}):
                violations.append(
                    f"{where}: {label} sets its own freshness; delete it: every source gets its "
                    "thresholds from `sources: elt_platform: +freshness:` in dbt_project.yml "
                    "(an exception goes there too, under the source's path)."
                )
            for key in ("loaded_at_field", "loaded_at_query"):
                if key in entry:
                    violations.append(
                        f"{where}: {label} has {key} at the top level, which dbt deprecates; "
                        "move it under `config:`."
                    )
    return violations


def is_blank(text: str | None) -> bool:
    return not (text or "").strip()


def undocumented_columns(model: Node) -> list[str]:
    where = f"{model['path']}: model {model['name']}"
    if not model["columns"]:
        return [
            f"{where} documents none of its columns; list every column under `columns:` with a "
            f"description in {yml_hint(model)}."
        ]
    return [
        f"{where} column {column['name']} has no description; add one in {yml_hint(model)}."
        for column in model["columns"].values()
        if is_blank(column["description"])
    ]


def undocumented_resources(manifest: Manifest) -> list[str]:
    """Rule: every model, seed, snapshot and source table, and every model column, says what it is.

    Only columns declared in YAML are in the manifest; a model that declares none is flagged.
    """
    violations = []
    for resource_type in ("model", "seed", "snapshot"):
        for node in project_nodes(manifest, resource_type):
            where = node["path"] if resource_type == "model" else node["original_file_path"]
            if is_blank(node["description"]):
                violations.append(
                    f"{where}: {resource_type} {node['name']} has no description; add "
                    f"`description:` to it in {yml_hint(node)}."
                )
            if resource_type == "model":
                violations.extend(undocumented_columns(node))
    for source in project_sources(manifest):
        if is_blank(source["description"]):
            violations.append(
                f"{source['original_file_path']}: source table {source['source_name']}."
                f"{source['name']} has no description; add `description:` under the table."
            )
    return violations


FIRST_FROM = re.compile(r"\bfrom\s+(\w+)", re.IGNORECASE)
GROUP_BY = re.compile(r"\bgroup\s+by\s+(.+?)\s*$", re.IGNORECASE | re.DOTALL)


def summaries(model: Node) -> Iterable[tuple[str, str, tuple[str, ...]]]:
    """The model's ``*_summary`` CTEs (STYLE.md: aggregate in a ``*_summary`` CTE before
    joining) that group an imported model: the CTE, the model it groups, and the key."""
    sql = model["raw_code"]
    imports = imported_models(sql)
    for name, body in ctes(sql).items():
        source, group = FIRST_FROM.search(body), GROUP_BY.search(body)
        if not name.endswith("_summary") or not source or not group:
            continue
        if source[1] in imports:
            key = tuple(sorted(part.strip().split(".")[-1] for part in group[1].split(",")))
            yield name, imports[source[1]], key


def summaries_computed_twice(manifest: Manifest) -> list[str]:
    """Rule: a model is summarised by a key in one place, not copied into each model that needs
    the summary (two copies drift apart: one gains a filter the other lacks)."""
    first_seen: dict[tuple[str, tuple[str, ...]], Node] = {}
    violations = []
    for model in project_nodes(manifest, "model"):
        for cte, summarised, key in summaries(model):
            first = first_seen.setdefault((summarised, key), model)
            if first is not model:
                violations.append(
                    f"{model['path']}: CTE {cte} summarises {summarised} by {', '.join(key)}, "
                    f"as {first['path']} already does; summarise it once, in an intermediate "
                    "model, and select from that in both."
                )
    return violations


def enforced_not_null_columns(node: Node) -> set[str]:
    """Columns a contracted table constrains `not null`: Postgres enforces it on every insert."""
    if not node["config"].get("contract", {}).get("enforced") or node["config"].get(
        "materialized"
    ) in ("view", "ephemeral"):
        return set()
    return {
        name
        for name, column in node["columns"].items()
        if any(c["type"] == "not_null" for c in column.get("constraints", []))
    }


def compound_keys_with_nullable_columns(manifest: Manifest) -> list[str]:
    """Rule: every column of a compound key is tested not_null (or constrained, in a contracted
    table): `unique_combination_of_columns` lets a row with a null key part through."""
    tests = generic_tests_by_node(manifest)
    violations = []
    for resource_type in ("model", "snapshot", "seed"):
        for node in project_nodes(manifest, resource_type):
            node_tests = tests.get(node["unique_id"], [])
            not_null = {
                column_checked_by(test)
                for test in node_tests
                if test["test_metadata"]["name"] == "not_null"
            } | enforced_not_null_columns(node)
            for test in node_tests:
                if test["test_metadata"]["name"] != COMPOUND_KEY_TEST:
                    continue
                key = test["test_metadata"]["kwargs"].get("combination_of_columns") or []
                for column in [column for column in key if column not in not_null]:
                    violations.append(
                        f"{node['original_file_path']}: column {column} of {node['name']} is "
                        "part of its compound key but not tested not_null; add `- not_null` "
                        f"under its `data_tests:` in {yml_hint(node)}."
                    )
    return violations


def declared_column_types(node: Node) -> dict[str, str]:
    """The types a node's YAML declares: columns' data_type, or a seed's column_types."""
    types = {name: column.get("data_type") for name, column in node["columns"].items()}
    types.update(node["config"].get("column_types") or {})
    return {name: data_type for name, data_type in types.items() if data_type}


def float_money_columns(manifest: Manifest) -> list[str]:
    """Rule: money is never a float (double precision, real), which cannot hold cents exactly.

    Declared types only (marts declare every column for their contracts); test_dbt_project.py
    checks the built types of every model with the same rule.
    """
    violations = []
    for resource_type in ("model", "seed", "snapshot"):
        for node in project_nodes(manifest, resource_type):
            for column, data_type in sorted(declared_column_types(node).items()):
                if is_float_money_column(column, data_type):
                    violations.append(
                        f"{node['original_file_path']}: column {column} of {node['name']} holds "
                        f"money as {data_type}; cast it to numeric(14, 2) where it enters "
                        f"(staging) and declare data_type numeric(14, 2) in {yml_hint(node)}."
                    )
    return violations


def snapshot_checks(snapshot: Node, tests: Iterable[Node]) -> dict[str, bool]:
    """Which of the three history checks a snapshot's tests make."""
    key = snapshot["config"]["unique_key"]
    found = {"scd_id": set(), "current": False, "ranges": False}
    for test in tests:
        name, kwargs = test["test_metadata"]["name"], test["test_metadata"]["kwargs"]
        column = column_checked_by(test)
        if column == "dbt_scd_id" and name in PRIMARY_KEY_PAIR:
            found["scd_id"].add(name)
        where = (test["config"].get("where") or "").lower()
        if name == "unique" and column == key and "dbt_valid_to is null" in where:
            found["current"] = True
        if name == "mutually_exclusive_ranges" and kwargs.get("partition_by") == key:
            found["ranges"] = True
    return {
        "`unique` and `not_null` on dbt_scd_id (one row per version)": found["scd_id"]
        == PRIMARY_KEY_PAIR,
        f'`unique` on {key} with `config: {{where: "dbt_valid_to is null"}}` (one current '
        "version per key)": found["current"],
        f"`mutually_exclusive_ranges` from dbt_valid_from to coalesce(dbt_valid_to, <far future>)"
        f" with partition_by {key} (no overlapping versions)": found["ranges"],
    }


def snapshots_without_history_tests(manifest: Manifest) -> list[str]:
    """Rule: every snapshot is tested as history, since it is the only copy of past versions."""
    tests = generic_tests_by_node(manifest)
    violations = []
    for snapshot in project_nodes(manifest, "snapshot"):
        checks = snapshot_checks(snapshot, tests.get(snapshot["unique_id"], []))
        missing = [check for check, present in checks.items() if not present]
        if missing:
            violations.append(
                f"{snapshot['original_file_path']}: snapshot {snapshot['name']} lacks "
                f"{'; '.join(missing)}; add them under its `data_tests:` in {yml_hint(snapshot)}."
            )
    return violations


PERSONAL_COLUMN = re.compile(
    r"^(e?mail|email_address|phone(_number)?|mobile|address|street|postcode|ip(_address)?"
    r"|date_of_birth|birth_?date|first_name|last_name|full_name|customer_name)$"
)
PERSONAL_ENTITY = re.compile(r"customer|user|person|contact|member|employee")
"""Columns that hold personal data by their name (``name`` only in a table of people)."""


def pii(column: dict[str, Any]) -> Any:
    """A column's ``meta.pii``: True, "pseudonymised", or None."""
    return column.get("meta", {}).get("pii") or column.get("config", {}).get("meta", {}).get("pii")


def nodes_with_columns(manifest: Manifest) -> list[Node]:
    """This project's sources, models, seeds and snapshots: what has columns."""
    return project_sources(manifest) + [
        node
        for resource_type in ("model", "seed", "snapshot")
        for node in project_nodes(manifest, resource_type)
    ]


def personal_columns(node: Node) -> list[str]:
    """The node's columns declared as personal data not pseudonymised (``pii: true``)."""
    return [name for name, column in node.get("columns", {}).items() if pii(column) is True]


def personal_columns_undeclared(manifest: Manifest) -> list[str]:
    violations = []
    for node in nodes_with_columns(manifest):
        for name, column in node.get("columns", {}).items():
            looks_personal = PERSONAL_COLUMN.match(name) or (
                name == "name" and PERSONAL_ENTITY.search(node["name"])
            )
            if looks_personal and pii(column) not in (True, "pseudonymised"):
                violations.append(
                    f"{node['original_file_path']}: column {name} of {node['name']} looks like"
                    " personal data: declare it with `meta: {pii: true}` (or `pii: pseudonymised`"
                    " for a keyed pseudonym) so the rules below can follow it"
                )
    return violations


def personal_data_in_public_models(manifest: Manifest) -> list[str]:
    return [
        f"{model['original_file_path']}: public model {model['name']} exposes {column}, personal"
        " data (pii: true): leave it out, or pseudonymise it with {{ pseudonymise(...) }} and"
        " mark it `pii: pseudonymised`"
        for model in project_nodes(manifest, "model")
        if model["config"].get("access") == "public"
        for column in personal_columns(model)
    ]


def personal_data_in_snapshots(manifest: Manifest) -> list[str]:
    """A snapshot keeps every version for ever, so an erased person would stay in it."""
    violations = []
    for snapshot in project_nodes(manifest, "snapshot"):
        parents = [
            manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id)
            for unique_id in snapshot["depends_on"]["nodes"]
        ]
        for parent in [snapshot, *(parent for parent in parents if parent)]:
            for column in personal_columns(parent):
                violations.append(
                    f"{snapshot['original_file_path']}: snapshot {snapshot['name']} keeps"
                    f" {column} of {parent['name']}, personal data, for ever: snapshot a model"
                    " without it (as int_customers_depersonalised does)"
                )
    return violations


def stored_failures_of_personal_data(manifest: Manifest) -> list[str]:
    """A test that stores its failing rows copies them into test_failures, beyond erasure."""
    violations = []
    for test in project_nodes(manifest, "test"):
        if not test["config"].get("store_failures"):
            continue
        for unique_id in test["depends_on"]["nodes"]:
            tested = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id)
            if tested and personal_columns(tested):
                violations.append(
                    f"{test['original_file_path']}: test {test['name']} stores the failing rows"
                    f" of {tested['name']}, which holds personal data: drop store_failures"
                )
    return violations


def generic_test_signature(macro: Node) -> tuple[str, list[str]] | None:
    """A ``{% test name(model, ...) %}`` block's name and argument names, besides ``model``."""
    match = GENERIC_TEST_SIGNATURE.search(macro["macro_sql"])
    if not match:
        return None
    names = [argument.split("=")[0].strip() for argument in match["arguments"].split(",")]
    return match["name"], [name for name in names if name and name != "model"]


def looks_like(name: str, other: str) -> bool:
    """Names an analyst would take for one another: ``equal_row_count`` and ``equal_rowcount``."""
    close = difflib.SequenceMatcher(None, name, other).ratio() >= 0.8
    return close or name.startswith(other) or other.startswith(name)


def generic_tests_unlike_dbt_utils(manifest: Manifest) -> list[str]:
    """Rule: our generic tests that do what a dbt_utils test does carry its name and arguments.

    Peer tools and reviewers recognise dbt_utils' tests, and switching to the package is then a
    one-line change. A test dbt_utils does not have keeps a name of its own, unlike any of its.
    """
    project = manifest["metadata"]["project_name"]
    violations = []
    macros = sorted(manifest["macros"].values(), key=lambda m: m["original_file_path"])
    for macro in macros:
        signature = macro["package_name"] == project and generic_test_signature(macro)
        if not signature:
            continue
        name, arguments = signature
        where = f"{macro['original_file_path']}: generic test {name}"
        if name in DBT_UTILS_GENERIC_TESTS:
            expected = DBT_UTILS_GENERIC_TESTS[name]
            if set(arguments) != set(expected):
                violations.append(
                    f"{where} shadows dbt_utils' {name} with other arguments "
                    f"({', '.join(arguments)}); take exactly dbt_utils' ({', '.join(expected)}), "
                    "or give the test a name of its own."
                )
            continue
        for utils_name, expected in DBT_UTILS_GENERIC_TESTS.items():
            if looks_like(name, utils_name):
                violations.append(
                    f"{where} looks like dbt_utils' {utils_name}; if it does the same, rename it "
                    f"to {utils_name} with arguments ({', '.join(expected)}), else name it so "
                    "that nobody takes it for that one."
                )
    return violations


def version_bounds(specifiers: str) -> set[tuple[str, Version]]:
    return {(s.operator, Version(s.version)) for s in SpecifierSet(specifiers)}


def check(rule: Callable[[Any], list[str]], subject: Manifest | Path) -> None:
    """Fail with the rule and its messages only: a bare assert would repeat them as a repr."""
    violations = rule(subject)
    if violations:
        title = (rule.__doc__ or rule.__name__).splitlines()[0]
        listing = "\n".join(f"  - {violation}" for violation in violations)
        pytest.fail(f"{title}\n{len(violations)} violation(s):\n{listing}", pytrace=False)


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> Manifest:
    return json.loads(dbt_manifest.read_text())


def test_every_model_has_a_primary_key_test(manifest: Manifest) -> None:
    check(models_without_primary_key_test, manifest)


def test_no_mart_or_intermediate_model_reads_a_source(manifest: Manifest) -> None:
    check(marts_and_intermediates_reading_sources, manifest)


def test_each_staging_model_reads_one_source_and_no_staging_model(manifest: Manifest) -> None:
    check(staging_models_not_on_one_source, manifest)


def test_each_source_table_is_read_by_one_model(manifest: Manifest) -> None:
    check(sources_read_by_several_models, manifest)


def test_model_names_match_their_folder(manifest: Manifest) -> None:
    check(models_named_against_their_folder, manifest)


def test_every_mart_has_an_enforced_contract(manifest: Manifest) -> None:
    check(marts_without_enforced_contract, manifest)


def test_every_source_table_has_freshness(manifest: Manifest) -> None:
    check(sources_without_freshness, manifest)


def test_source_freshness_is_set_once_in_dbt_project_yml() -> None:
    check(freshness_set_outside_the_project_file, PROJECT_ROOT / "dbt_project")


def test_the_linter_renders_the_incremental_branches() -> None:
    """sqlfluff lints the SQL it renders: the branch an incremental build takes must render for
    the linter too, or a mistake in it is only found by the second build."""
    config = FluffConfig.from_path(str(PROJECT_ROOT))
    model = PROJECT_ROOT / "dbt_project/models/intermediate/web/int_events_sessionised.sql"
    variants = Linter(config=config).render_file(str(model), config).templated_variants

    assert any(
        re.search(r"visitors_resumed as (not )?(materialized )?\(", str(variant))
        for variant in variants
    ), (
        "the linter does not render int_events_sessionised's incremental branch:"
        " sqlfluff_libs must answer is_incremental_with()"
    )


def test_the_project_requires_the_dbt_version_pyproject_pins() -> None:
    """dbt stops with a clear message on a version the project was not written for."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("dbt-core"))

    required = project.get("require-dbt-version")

    assert required, f"dbt_project.yml: add `require-dbt-version:` for pyproject.toml's {pin}"
    assert version_bounds(",".join(required)) == version_bounds(pin.removeprefix("dbt-core")), (
        f"dbt_project.yml: require-dbt-version {required} differs from pyproject.toml's {pin}"
    )


def test_everything_is_documented(manifest: Manifest) -> None:
    check(undocumented_resources, manifest)


def test_generic_tests_copying_dbt_utils_have_its_names_and_arguments(manifest: Manifest) -> None:
    check(generic_tests_unlike_dbt_utils, manifest)


def test_every_snapshot_is_tested_as_history(manifest: Manifest) -> None:
    check(snapshots_without_history_tests, manifest)


def test_no_money_column_is_declared_a_float(manifest: Manifest) -> None:
    check(float_money_columns, manifest)


def test_every_column_of_a_compound_key_is_not_null(manifest: Manifest) -> None:
    check(compound_keys_with_nullable_columns, manifest)


def test_personal_columns_are_declared(manifest: Manifest) -> None:
    check(personal_columns_undeclared, manifest)


def test_no_public_model_exposes_personal_data(manifest: Manifest) -> None:
    check(personal_data_in_public_models, manifest)


def test_no_snapshot_keeps_personal_data(manifest: Manifest) -> None:
    check(personal_data_in_snapshots, manifest)


def test_no_test_stores_failing_rows_of_personal_data(manifest: Manifest) -> None:
    check(stored_failures_of_personal_data, manifest)


def test_no_summary_is_computed_in_two_models(manifest: Manifest) -> None:
    check(summaries_computed_twice, manifest)


BAD_FILES = {
    # Opting out of the contract dbt_project.yml enforces on every mart, as a hurried analyst might.
    "models/marts/core/customers_bad.sql": (
        "{{ config(contract={'enforced': false}) }}\n"
        "select * from {{ source('shop', 'customers') }}\n"
    ),
    "models/staging/shop/stg_shop_customers_copy.sql": (
        "select * from {{ ref('stg_shop__customers') }}\n"
    ),
    # Copies of dbt_utils tests under other names and arguments, as the project once had.
    "tests/generic/equal_row_count.sql": (
        "{% test equal_row_count(model, compare_model) %}\nselect 1 where false\n{% endtest %}\n"
    ),
    "tests/generic/recency.sql": (
        "{% test recency(model, field, datepart, interval, compare_model=none, compare_field=none)"
        " %}\nselect 1 where false\n{% endtest %}\n"
    ),
    # A mart that keeps spend as a float.
    "models/marts/reporting/fct_bad_spend.sql": "select 1.5::double precision as spend\n",
    "models/marts/reporting/_bad__models.yml": (
        "version: 2\nmodels:\n  - name: fct_bad_spend\n    description: Spend.\n"
        "    columns:\n      - name: spend\n        description: Spend.\n"
        "        data_type: double precision\n"
        "    data_tests:\n      - unique_combination_of_columns:\n"
        "          arguments: {combination_of_columns: [spend]}\n"
    ),
    # Refunds summed per payment a second time, beside int_payments_enriched.
    "models/marts/core/fct_refunded_payments.sql": (
        "with\n\nrefunds as (\n\n    select * from {{ ref('stg_payments__refunds') }}\n\n),\n\n"
        "refunds_summary as (\n\n    select payment_id, sum(amount) as amount_refunded\n"
        "    from refunds\n    group by payment_id\n\n)\n\nselect * from refunds_summary\n"
    ),
    # A snapshot with no tests at all.
    "snapshots/scratch_snapshots.yml": (
        "version: 2\nsnapshots:\n  - name: snap_scratch__products\n"
        "    description: Versions of products.\n"
        "    relation: ref('stg_shop__products')\n"
        "    config: {unique_key: product_id, strategy: timestamp, updated_at: updated_at}\n"
    ),
    # Personal data where it must not be: a public mart with an email, a snapshot of the
    # customers with their names, an undeclared phone number, failing rows of customers stored.
    "models/marts/core/dim_contacts.sql": (
        "select customer_id, email, '' as phone from {{ ref('stg_shop__customers') }}\n"
    ),
    "models/marts/core/_bad__models.yml": (
        "version: 2\nmodels:\n  - name: dim_contacts\n    description: Contacts.\n"
        "    columns:\n      - name: customer_id\n        description: Key.\n"
        "        data_type: bigint\n        data_tests: [unique, not_null]\n"
        "      - name: email\n        description: Email.\n        data_type: text\n"
        "        meta: {pii: true}\n"
        "      - name: phone\n        description: Phone.\n        data_type: text\n"
    ),
    "tests/assert_customers_have_emails.sql": (
        "{{ config(store_failures=true) }}\n"
        "select * from {{ ref('stg_shop__customers') }} where email is null\n"
    ),
    "snapshots/personal_snapshots.yml": (
        "version: 2\nsnapshots:\n  - name: snap_shop__people\n"
        "    description: Versions of customers.\n"
        "    relation: ref('stg_shop__customers')\n"
        "    config: {unique_key: customer_id, strategy: timestamp, updated_at: updated_at}\n"
    ),
    # Freshness in the deprecated top-level place, switched off for one table, no loaded_at_field.
    "models/staging/shop/_scratch__sources.yml": (
        "version: 2\nsources:\n  - name: scratch\n    schema: raw_scratch\n"
        "    freshness: {warn_after: {count: 1, period: day}}\n"
        "    tables:\n      - name: uploads\n        config: {freshness: null}\n"
    ),
}
"""One file (or a few) breaking each rule: a mart on a source with no yml, a staging model on a
staging model, a source with its own freshness, copies of dbt_utils tests under other names, a
float money column in a compound key, a summary computed twice, a snapshot without tests."""


@pytest.fixture(scope="module")
def bad_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a parsed copy of the project with ``BAD_FILES`` added (dbt_project/)."""
    workspace = tmp_path_factory.mktemp("bad-project")
    parse_project_copy(workspace, BAD_FILES)
    return workspace


@pytest.fixture(scope="module")
def bad_manifest(bad_workspace: Path) -> Manifest:
    return json.loads((bad_workspace / "target" / "manifest.json").read_text())


BAD_MART = "marts/core/customers_bad.sql"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            models_without_primary_key_test,
            f"{BAD_MART}: model customers_bad has no primary-key test",
            id="mart-without-primary-key-test",
        ),
        pytest.param(
            marts_and_intermediates_reading_sources,
            f"{BAD_MART}: a mart must not read a source directly (reads source shop.customers); "
            "select from a staging model with ref() instead.",
            id="mart-reading-a-source",
        ),
        pytest.param(
            models_named_against_their_folder,
            f"{BAD_MART}: model customers_bad is in marts/ so must start with dim_",
            id="mart-without-prefix",
        ),
        pytest.param(
            models_named_against_their_folder,
            "model stg_shop_customers_copy does not match stg_<source>__<entity>",
            id="staging-name-without-double-underscore",
        ),
        pytest.param(
            marts_without_enforced_contract,
            f"{BAD_MART}: a mart needs an enforced contract",
            id="mart-without-contract",
        ),
        pytest.param(
            undocumented_resources,
            f"{BAD_MART}: model customers_bad has no description",
            id="undocumented-mart",
        ),
        pytest.param(
            undocumented_resources,
            "source table scratch.uploads has no description",
            id="undocumented-source",
        ),
        pytest.param(
            staging_models_not_on_one_source,
            "must not depend on another staging model (reads stg_shop__customers)",
            id="staging-on-staging",
        ),
        pytest.param(
            sources_read_by_several_models,
            "source shop.customers is read by 2 models (customers_bad, stg_shop__customers)",
            id="source-read-by-two-models",
        ),
        pytest.param(
            staging_models_not_on_one_source,
            "customers_copy.sql: a staging model must read exactly one source (reads none)",
            id="staging-without-source",
        ),
        pytest.param(
            generic_tests_unlike_dbt_utils,
            "tests/generic/equal_row_count.sql: generic test equal_row_count looks like dbt_utils'"
            " equal_rowcount; if it does the same, rename it to equal_rowcount",
            id="generic-test-named-unlike-dbt-utils",
        ),
        pytest.param(
            generic_tests_unlike_dbt_utils,
            "generic test recency shadows dbt_utils' recency with other arguments",
            id="generic-test-shadowing-dbt-utils",
        ),
        pytest.param(
            float_money_columns,
            "models/marts/reporting/fct_bad_spend.sql: column spend of fct_bad_spend holds money"
            " as double precision; cast it to numeric(14, 2)",
            id="float-money-column",
        ),
        pytest.param(
            compound_keys_with_nullable_columns,
            "column spend of fct_bad_spend is part of its compound key but not tested not_null",
            id="compound-key-column-without-not-null",
        ),
        pytest.param(
            summaries_computed_twice,
            "marts/core/fct_refunded_payments.sql: CTE refunds_summary summarises"
            " stg_payments__refunds by payment_id, as intermediate/core/int_payments_enriched.sql"
            " already does",
            id="summary-computed-twice",
        ),
        pytest.param(
            snapshots_without_history_tests,
            "snapshots/scratch_snapshots.yml: snapshot snap_scratch__products lacks `unique` and "
            "`not_null` on dbt_scd_id (one row per version); `unique` on product_id with",
            id="snapshot-without-tests",
        ),
        pytest.param(
            sources_without_freshness,
            "source scratch.uploads has no freshness threshold",
            id="source-without-freshness",
        ),
        pytest.param(
            personal_columns_undeclared,
            "column phone of dim_contacts looks like personal data",
            id="personal-column-undeclared",
        ),
        pytest.param(
            personal_data_in_public_models,
            "public model dim_contacts exposes email, personal data",
            id="personal-data-in-a-public-mart",
        ),
        pytest.param(
            personal_data_in_snapshots,
            "snapshot snap_shop__people keeps customer_name of stg_shop__customers",
            id="personal-data-in-a-snapshot",
        ),
        pytest.param(
            stored_failures_of_personal_data,
            "test assert_customers_have_emails stores the failing rows of stg_shop__customers",
            id="stored-failures-of-personal-data",
        ),
        pytest.param(
            sources_without_freshness,
            "source scratch.uploads has no loaded_at_field",
            id="source-without-loaded-at-field",
        ),
    ],
)
def test_each_rule_reports_a_deliberately_bad_file(
    bad_manifest: Manifest, rule: Rule, expected: str
) -> None:
    violations = rule(bad_manifest)
    assert any(expected in violation for violation in violations), "\n".join(violations)


@pytest.mark.parametrize(
    "expected",
    [
        "models/staging/shop/_scratch__sources.yml: source scratch sets its own freshness; delete"
        " it: every source gets its thresholds from `sources: elt_platform: +freshness:`",
        "source table scratch.uploads sets its own freshness",
    ],
)
def test_the_freshness_rule_reports_a_properties_file_that_sets_its_own(
    bad_workspace: Path, expected: str
) -> None:
    violations = freshness_set_outside_the_project_file(bad_workspace / "dbt_project")
    assert any(expected in violation for violation in violations), "\n".join(violations)


def generic_test(name: str, column: str | None = None) -> Node:
    return {"test_metadata": {"name": name, "kwargs": {"column_name": column}}}


def test_unique_and_not_null_on_different_columns_are_no_primary_key() -> None:
    tests = [generic_test("unique", "order_id"), generic_test("not_null", "customer_id")]
    assert not has_primary_key_test(tests)


def test_unique_and_not_null_on_one_column_or_a_unique_combination_are_a_primary_key() -> None:
    assert has_primary_key_test([generic_test("not_null", "id"), generic_test("unique", "id")])
    assert has_primary_key_test([generic_test("unique_combination_of_columns")])


@pytest.mark.parametrize(
    ("name", "fits"),
    [
        ("stg_shop__orders", True),
        ("stg_google_ads__ad_groups", True),
        ("stg_shop_orders", False),
        ("stg_shop___orders", False),
        ("stg__orders", False),
    ],
)
def test_staging_names_need_source_double_underscore_entity(name: str, fits: bool) -> None:
    assert bool(STAGING_NAME.match(name)) is fits
