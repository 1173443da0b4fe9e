"""Dagster definitions: the dlt pipelines and the dbt project as one asset graph.

Thin by design: assets run dlt and dbt; no business logic lives here.
"""
