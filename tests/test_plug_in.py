"""Plugging in your own systems: sources live where their configuration says, a new source is
one registry entry and its dbt YAML, and the platform layers know nothing of the demo."""

import ast
import csv
import re
from pathlib import Path
from typing import Any

import dlt
import pytest
from dagster import AssetExecutionContext, AssetKey, DagsterInstance, materialize
from dagster_dbt import DbtCliResource, dbt_assets
from helpers import parse_project_copy, query

from demo_sources.simulator import ShopSimulator
from ingestion.load import Load, Reconciliation, SourceSystem, count_rows
from warehouse.embedded import NO_DURABILITY, throwaway_server
from warehouse.paths import PROJECT_ROOT
from warehouse.settings import TRANSFORMER

SHOP_TABLES = ("customers", "products", "orders", "order_items")


@pytest.fixture
def own_shop_server(tmp_path, monkeypatch):
    """An empty warehouse, and the shop on a second server of its own with other credentials'
    URL, as a team's application database would be: the environment points at both."""
    with (
        throwaway_server(tmp_path / "warehouse", NO_DURABILITY) as warehouse,
        throwaway_server(tmp_path / "app", NO_DURABILITY) as app,
    ):
        shop_url = app.url("app_db")
        monkeypatch.setenv("PGPORT", str(warehouse.settings.port))
        monkeypatch.setenv("PLATFORM_DATA_DIR", str(warehouse.paths.data_dir))
        monkeypatch.setenv("SOURCES__SHOP__CREDENTIALS", shop_url)
        shop = ShopSimulator(shop_url, tmp_path / "app-files")
        shop.init(4, scale="tiny")
        yield warehouse, app, shop


def test_the_shop_on_another_server_loads_and_reconciles_through_dagster(
    own_shop_server, dbt_manifest
):
    from orchestration.definitions import defs

    warehouse, app, shop = own_shop_server
    shop_assets = defs.resolve_assets_def(AssetKey(["raw_shop", "customers"]))
    job = defs.resolve_job_def("refresh_warehouse")

    def refresh():
        return job.execute_in_process(
            instance=DagsterInstance.ephemeral(),
            asset_selection=sorted(shop_assets.keys),
            raise_on_error=False,
        )

    first = refresh()
    days = shop.advance(2)
    second = refresh()

    for result in (first, second):
        assert result.success
        checks = {
            evaluation.asset_key.path[-1]: evaluation.passed
            for evaluation in result.get_asset_check_evaluations()
        }
        assert checks == dict.fromkeys(SHOP_TABLES, True)
    assert sum(day.deleted_customers for day in days) > 0
    app_customers = query(app, "select customer_id from customers order by 1", "app_db")
    assert query(warehouse, "select customer_id from raw_shop.customers order by 1") == (
        app_customers
    )
    databases = "select count(*) from pg_database where datname in ('shop', 'app_db')"
    assert query(warehouse, databases, "postgres") == [(0,)], "nothing of the shop's is here"


@dlt.source
def csv_folder_source(folder: str = dlt.config.value):
    """Every ``*.csv`` in ``folder``: contacts, merged on ``contact_id``."""

    @dlt.resource(name="contacts", primary_key="contact_id", write_disposition="merge")
    def contacts():
        for path in sorted(Path(folder).glob("*.csv")):
            with path.open(newline="") as file:
                yield list(csv.DictReader(file))

    return contacts


class CsvFolderLoad(Load):
    """A fourth source of a protocol the platform does not know: a folder of CSV files."""

    kind = "file"

    def source(self, **config: Any):
        return csv_folder_source.clone(name=self.name, section=self.name)(
            **{**self.config, **config}
        )

    def source_systems(self) -> list[SourceSystem]:
        return [SourceSystem("contacts", "The CRM's contact exports")]

    def reconciled_tables(self) -> list[str]:
        return ["contacts"]

    def reconcile(self, pipeline) -> list[Reconciliation]:
        folder = Path(self.setting("folder"))
        lines = sum(len(path.read_text().splitlines()) - 1 for path in folder.glob("*.csv"))
        return [
            Reconciliation(
                raw_table=f"{self.dataset}.contacts",
                source=f"{self.name}: lines of {folder}",
                raw_rows=count_rows(pipeline, ["contacts"])["contacts"],
                source_rows=lines,
            )
        ]


CRM_DBT_FILES = {
    "models/staging/crm/_crm__sources.yml": """
version: 2
sources:
  - name: crm
    schema: raw_crm
    tables:
      - name: contacts
""",
    "models/staging/crm/stg_crm__contacts.sql": (
        "select contact_id, email from {{ source('crm', 'contacts') }}\n"
    ),
}


@pytest.fixture
def crm(tmp_path, monkeypatch):
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "a.csv").write_text("contact_id,email\n1,a@example.com\n2,b@example.com\n")
    (folder / "b.csv").write_text("contact_id,email\n3,c@example.com\n")
    monkeypatch.setenv("SOURCES__CRM__FOLDER", str(folder))
    return CsvFolderLoad("crm")


def test_a_fourth_source_is_one_registry_entry_and_its_dbt_yaml(
    crm, tmp_path, warehouse, dbt_manifest, capsys
):
    from ingestion.__main__ import main
    from ingestion.registry import LOADS
    from orchestration.definitions import build_definitions

    manifest = parse_project_copy(tmp_path / "dbt", CRM_DBT_FILES)
    defs = build_definitions([*LOADS, crm], manifest)
    graph = defs.resolve_asset_graph()
    raw = AssetKey(["raw_crm", "contacts"])

    assert graph.get(raw).is_materializable and "dlt" in graph.get(raw).kinds
    assert AssetKey(["crm", "contacts"]) in graph.get(raw).parent_keys
    assert raw in graph.get(AssetKey(["staging", "stg_crm__contacts"])).parent_keys
    checks = {
        spec.name: spec
        for checks in defs.asset_checks
        for spec in checks.check_specs
        if spec.asset_key == raw
    }
    assert checks["row_count_matches_source"].blocking

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=DagsterInstance.ephemeral(), asset_selection=[raw]
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed, evaluation.description
    assert query(warehouse, "select count(*) from raw_crm.contacts") == [(3,)]

    assert main(["crm"], loads=[*LOADS, crm]) == 0
    assert "raw_crm.contacts: 3 rows, source crm: lines of" in capsys.readouterr().out


PLATFORM_LAYERS = ("warehouse", "ingestion")
DEMO_FACTS = re.compile(
    r"""
    \b(customers|products|orders|order_items|refunds|marketing_spend)\b  # the demo's tables
    | ["'/](events|marketing)/                                            # its file folders
    | data/landing                                                        # its landing folder
    | 2026-\d\d-\d\d                                                      # its first day
    | ["']shop["']                                                        # its database
    """,
    re.VERBOSE,
)
REGISTRY = Path("ingestion/registry.py")
"""Names each source once (``shop``, ``payments``, ``landing``), as a team names its own."""


def python_files(folders: tuple[str, ...]) -> list[Path]:
    return [
        path.relative_to(PROJECT_ROOT)
        for folder in folders
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
    ]


def test_the_platform_layers_name_no_demo_fact():
    found = [
        f"{path}:{number}: {line.strip()}"
        for path in python_files(PLATFORM_LAYERS)
        for number, line in enumerate((PROJECT_ROOT / path).read_text().splitlines(), start=1)
        if DEMO_FACTS.search(line) and not (path == REGISTRY and "Load(" in line)
    ]

    assert found == []


def test_only_the_demo_tests_and_benchmarks_import_the_demo():
    importers = []
    platform = ("warehouse", "ingestion", "orchestration", "dbt_warehouse_preflight", "dbt_project")
    for path in python_files(platform):
        tree = ast.parse((PROJECT_ROOT / path).read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "demo_sources" for name in names):
                importers.append(str(path))

    assert importers == []


def test_dbt_builds_where_the_warehouse_resource_points(tmp_path, monkeypatch, dbt_manifest):
    """With only WAREHOUSE_URL set, dbt (which reads PG* variables) still builds in that server:
    the dbt resource hands it the warehouse resource's connection."""
    from orchestration.resources import resources
    from orchestration.translators import WarehouseDbtTranslator

    @dbt_assets(
        manifest=dbt_manifest,
        select="channel_groups",
        dagster_dbt_translator=WarehouseDbtTranslator(),
    )
    def seed(context: AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["seed"], context=context).stream()

    with throwaway_server(tmp_path, NO_DURABILITY) as other:
        for variable in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
            monkeypatch.delenv(variable, raising=False)
        transformer = other.as_role(TRANSFORMER).url()
        monkeypatch.setenv("WAREHOUSE_URL", transformer.replace("127.0.0.1", "localhost"))
        # Another server than the embedded one: a dev target writes under a prefix of its own.
        monkeypatch.setenv("DBT_SCHEMA", "dbt_ci")

        result = materialize([seed], resources=resources(), instance=DagsterInstance.ephemeral())

        assert result.success
        assert query(other, "select count(*) > 0 from dbt_ci_reference.channel_groups") == [(True,)]
