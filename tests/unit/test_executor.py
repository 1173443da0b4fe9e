"""Runs from the UI, schedules and sensors fork their step processes from the run's process,
which has loaded the code location already; run config still chooses another executor."""

import pytest
from dagster import execute_job, job, op, reconstructable
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.executor.init import InitExecutorContext
from dagster._core.system_config.objects import ResolvedRunConfig
from dagster._core.test_utils import instance_for_test

from orchestration.executor import FORK, default_executor, default_start_method


@op
def nothing():
    pass


@job(executor_def=default_executor)
def tiny():
    nothing()


def created(run_config):
    config = ResolvedRunConfig.build(tiny, run_config).execution.execution_engine_config
    with instance_for_test() as instance:
        context = InitExecutorContext(
            job=reconstructable(tiny),
            executor_def=default_executor,
            executor_config=config,
            instance=instance,
        )
        return default_executor.executor_creation_fn(context)


def test_a_run_without_execution_config_forks_its_steps():
    assert created({})._start_method == FORK


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_run_config_still_chooses_how_steps_start(start_method):
    config = {"multiprocess": {"start_method": {start_method: {}}, "max_concurrent": 3}}

    executor = created({"execution": {"config": config}})

    assert (executor._start_method, executor._max_concurrent) == (start_method, 3)


def test_run_config_still_chooses_in_process():
    assert isinstance(created({"execution": {"config": {"in_process": {}}}}), InProcessExecutor)


def test_a_forked_step_runs():
    with instance_for_test() as instance:
        result = execute_job(reconstructable(tiny), instance=instance)

    assert result.success


def test_steps_fork_on_linux_and_use_a_forkserver_elsewhere():
    assert default_start_method("linux") == FORK
    assert default_start_method("darwin") == "forkserver"
