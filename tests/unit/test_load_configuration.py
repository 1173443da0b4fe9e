"""Loads read their configuration from ``[sources.<name>]``; what is missing is one clear line."""

import dlt
import pytest
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from ingestion.api import ApiLoad
from ingestion.database import DatabaseLoad, primary_keys
from ingestion.files import FilesLoad
from ingestion.load import LoadConfigurationError, explain_configuration_error
from ingestion.registry import LOADS, loads_named


def test_every_load_has_one_name_along_the_path():
    names = [load.name for load in LOADS]

    assert len(set(names)) == len(names)
    assert all(load.dataset == f"raw_{load.name}" for load in LOADS)


def test_the_registry_loads_describe_themselves_from_configuration_alone():
    for load in LOADS:
        source = load.definitions_source()
        assert source.name == load.name
        assert load.source_systems()
        assert set(load.reconciled_tables()) <= set(source.resources)


def test_loads_named_keeps_registry_order_and_refuses_unknown_names():
    assert [load.name for load in loads_named(["landing", "shop"])] == ["shop", "landing"]
    with pytest.raises(KeyError, match="unknown source nope"):
        loads_named(["nope"])


def test_a_missing_secret_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.delenv("SOURCES__PAYMENTS__API_TOKEN", raising=False)
    with pytest.raises(ConfigFieldMissingException) as missing:
        ApiLoad("payments").source()

    message = explain_configuration_error(missing.value)

    assert "\n" not in message
    assert "SOURCES__PAYMENTS__API_TOKEN" in message


def test_a_missing_setting_read_outside_the_source_names_the_variable():
    with pytest.raises(LoadConfigurationError, match="SOURCES__NOWHERE__BUCKET_URL"):
        FilesLoad("nowhere").setting("bucket_url")


def test_given_configuration_wins_over_the_files():
    load = DatabaseLoad("shop").configured(tables={"t": {"primary_key": "id"}})

    assert load.tables() == {"t": "id"}
    assert list(load.definitions_source().resources) == ["t"]


def test_a_table_without_a_primary_key_is_refused():
    with pytest.raises(LoadConfigurationError, match="needs a primary_key"):
        primary_keys({"t": {"hard_deletes": True}})


def test_sources_are_named_after_their_load_so_state_and_config_sections_match():
    source = DatabaseLoad("crm").configured(
        credentials="postgresql://u:p@h/db", schema="app", tables={"t": {"primary_key": "id"}}
    )

    assert source.source().name == "crm"
    assert dlt.config.get("sources.crm.schema") is None
