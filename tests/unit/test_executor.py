"""Runs from the UI, schedules and sensors fork their step processes from a server that has the
heavy modules imported already; run config still chooses another executor."""

import importlib

import pytest
from dagster import job, op
from dagster._core.system_config.objects import ResolvedRunConfig

from orchestration.executor import STEP_PRELOAD, default_executor


@op
def nothing():
    pass


@job(executor_def=default_executor())
def tiny():
    nothing()


def execution(run_config):
    return ResolvedRunConfig.build(tiny, run_config).execution.execution_engine_config


@pytest.mark.parametrize("module", STEP_PRELOAD)
def test_every_preloaded_module_imports(module, dbt_manifest):
    """Python's forkserver skips a module it cannot import without a word."""
    importlib.import_module(module)


def test_a_run_without_execution_config_forks_its_steps_from_a_preloaded_server():
    start = execution({})["multiprocess"]["start_method"]

    assert start == {"forkserver": {"preload_modules": list(STEP_PRELOAD)}}


@pytest.mark.parametrize(
    "chosen",
    [{"in_process": {}}, {"multiprocess": {"start_method": {"spawn": {}}}}],
)
def test_run_config_still_chooses_the_executor(chosen):
    (kind,) = chosen

    assert kind in execution({"execution": {"config": chosen}})
