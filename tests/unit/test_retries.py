"""Which load failures Dagster retries: only those that can pass by themselves."""

import psycopg2
from dlt.common.exceptions import TransientException
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.load import is_transient


class FakeTransient(TransientException):
    pass


def wrapped(error: BaseException) -> BaseException:
    """``error`` as dlt raises it: the cause of a step failure."""
    try:
        try:
            raise error
        except BaseException as cause:
            raise RuntimeError("step failed") from cause
    except RuntimeError as outer:
        return outer


def test_lost_connections_and_dlt_transient_errors_are_transient():
    assert is_transient(psycopg2.OperationalError("server closed the connection"))
    assert is_transient(ConnectionResetError())
    assert is_transient(wrapped(FakeTransient("try again")))


def test_everything_else_is_terminal():
    assert not is_transient(ValueError("401 Unauthorized"))
    assert not is_transient(wrapped(psycopg2.errors.UniqueViolation("duplicate key")))
    assert not is_transient(wrapped(KeyError("count")))


def test_a_cycle_of_causes_ends():
    error = ValueError("a")
    error.__context__ = ValueError("b")
    error.__context__.__context__ = error

    assert not is_transient(error)


def test_the_cause_inside_a_pipeline_step_failure_counts():
    failure = PipelineStepFailed.__new__(PipelineStepFailed)
    failure.exception = psycopg2.OperationalError("no connection")

    assert is_transient(failure)


def test_a_database_refusal_dlt_retries_is_terminal():
    """dlt's Postgres COPY job reports every error as a retry (LoadClientJobRetry, transient):
    a duplicate key never passes by itself."""
    retry = FakeTransient("job retried")
    retry.exception = psycopg2.errors.UniqueViolation("duplicate key value")

    assert not is_transient(wrapped(retry))
