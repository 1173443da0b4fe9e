"""Structure rules for the dbt project, read from its manifest: our dbt-project-evaluator.

Each rule is a small pure function from a parsed ``manifest.json`` to a list of violations, one
analyst-readable message each: the file, what is wrong and how to fix it. The tests run every rule
on the real project, and on a copy with deliberately bad files added, to show that each one bites.
``dbt parse`` is all they need: no database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from helpers import parse_project_copy

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
COMPOUND_KEY_TEST = "unique_combination"


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
    """``unique`` and ``not_null`` on one column, or our ``unique_combination`` on the model."""
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
            f"`unique_combination` test for a compound key, in {yml_hint(model)}."
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
                f"{where} has no freshness threshold; add `freshness: {{warn_after: {{count: 26, "
                "period: hour}}` to the source or the table."
            )
        # loaded_at_query is dbt's other way (1.10+) to say when a table was last loaded.
        if not (source.get("loaded_at_field") or source.get("loaded_at_query")):
            violations.append(
                f"{where} has no loaded_at_field; add `loaded_at_field:` to the source, e.g. "
                "to_timestamp(_dlt_load_id::double precision) for tables dlt loads."
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


def check(rule: Rule, manifest: Manifest) -> None:
    """Fail with the rule and its messages only: a bare assert would repeat them as a repr."""
    violations = rule(manifest)
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


def test_model_names_match_their_folder(manifest: Manifest) -> None:
    check(models_named_against_their_folder, manifest)


def test_every_mart_has_an_enforced_contract(manifest: Manifest) -> None:
    check(marts_without_enforced_contract, manifest)


def test_every_source_table_has_freshness(manifest: Manifest) -> None:
    check(sources_without_freshness, manifest)


def test_everything_is_documented(manifest: Manifest) -> None:
    check(undocumented_resources, manifest)


BAD_FILES = {
    # Opting out of the contract dbt_project.yml enforces on every mart, as a hurried analyst might.
    "models/marts/core/customers_bad.sql": (
        "{{ config(contract={'enforced': false}) }}\n"
        "select * from {{ source('shop', 'customers') }}\n"
    ),
    "models/staging/shop/stg_shop_customers_copy.sql": (
        "select * from {{ ref('stg_shop__customers') }}\n"
    ),
    "models/staging/shop/_scratch__sources.yml": (
        "version: 2\nsources:\n  - name: scratch\n    schema: raw_scratch\n"
        "    tables:\n      - name: uploads\n"
    ),
}
"""A mart on a source, a staging model on a staging model, a source with no freshness: no yml."""


@pytest.fixture(scope="module")
def bad_manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """The manifest of a copy of the project with ``BAD_FILES`` added."""
    workspace = tmp_path_factory.mktemp("bad-project")
    return json.loads(parse_project_copy(workspace, BAD_FILES).read_text())


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
            staging_models_not_on_one_source,
            "customers_copy.sql: a staging model must read exactly one source (reads none)",
            id="staging-without-source",
        ),
        pytest.param(
            sources_without_freshness,
            "source scratch.uploads has no freshness threshold",
            id="source-without-freshness",
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


def generic_test(name: str, column: str | None = None) -> Node:
    return {"test_metadata": {"name": name, "kwargs": {"column_name": column}}}


def test_unique_and_not_null_on_different_columns_are_no_primary_key() -> None:
    tests = [generic_test("unique", "order_id"), generic_test("not_null", "customer_id")]
    assert not has_primary_key_test(tests)


def test_unique_and_not_null_on_one_column_or_unique_combination_are_a_primary_key() -> None:
    assert has_primary_key_test([generic_test("not_null", "id"), generic_test("unique", "id")])
    assert has_primary_key_test([generic_test("unique_combination")])


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
