"""An HTTP API's paginated list endpoints into ``raw_<name>``, with dlt's ``rest_api`` source.

Configured under ``[sources.<name>]``, in ``rest_api``'s own vocabulary:

- ``base_url``, and ``api_token``: a bearer token (a secret: ``SOURCES__<NAME>__API_TOKEN`` or
  ``.dlt/secrets.toml``);
- ``paginator``, ``data_selector`` and ``params``: how every list endpoint pages, where the rows
  sit in a page, and query parameters sent with every request (such as a page size);
- ``[sources.<name>.resources.<table>]``: one list endpoint per table, with its ``path``,
  ``primary_key``, ``incremental`` (``cursor_path``, ``start_param``, ``initial_value``),
  ``count_path`` (an endpoint answering ``{"count": N}``, for reconciliation) and ``nested``:
  lists nested in each row that become tables of their own, each with its ``primary_key`` and
  ``count_path``. Nested rows carry their parent's primary key.

- **Incremental**: each request starts at the last cursor value loaded, and rows are merged on
  their primary key, nested tables too. One read feeds a table and its nested tables, so they
  load together: a run loading only some of them would move the cursor past rows the others
  never got.
- **Retries**: dlt's HTTP client retries 429 (honouring ``Retry-After``), 5xx and connection
  errors with exponential backoff (``[runtime] request_max_attempts`` in ``.dlt/config.toml``).
  A 401 stops the load at once, with the API's message.
- **Schema contract**: dlt's ``evolve``. A new field becomes a new column; a value of another
  type than its column's goes to a variant column (``<column>__v_text``) instead of
  failing the load or being lost.

**Reconciliation** asks each table's ``count_path`` for the API's own total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dlt
import requests
from dlt.sources import DltResource, DltSource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from ingestion.load import (
    Load,
    LoadConfigurationError,
    Reconciliation,
    SourceError,
    SourceSystem,
    count_rows,
)

DEFINITIONS_ONLY_TOKEN = "definitions-only"
"""Stands in for the token while Dagster lists the tables; never sent."""


@dlt.source
def api_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    resources: dict[str, Any] = dlt.config.value,
    paginator: dict[str, Any] | None = None,
    data_selector: str | None = None,
    params: dict[str, Any] | None = None,
) -> Iterator[DltResource]:
    """Each configured list endpoint, read once per run and forked to its table and to a table
    per nested list."""
    endpoints = {
        table: _endpoint(table, options, data_selector, params or {})
        for table, options in resources.items()
    }
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": api_token},
            **({"paginator": paginator} if paginator else {}),
        },
        "resources": [
            # Read once, not loaded itself: the transformers below fork its pages.
            {"name": f"{table}_pages", "selected": False, "endpoint": endpoint}
            for table, endpoint in endpoints.items()
        ],
    }
    pages_by_table = {
        resource.name.removesuffix("_pages"): resource for resource in rest_api_resources(config)
    }
    for table, options in resources.items():
        pages = pages_by_table[table]
        nested = nested_tables(table, options)
        yield pages
        yield pages | dlt.transformer(
            name=table, primary_key=options["primary_key"], write_disposition="merge"
        )(_without(tuple(nested)))
        for child, child_options in nested.items():
            parent_key = options["primary_key"]
            yield pages | dlt.transformer(
                name=child,
                primary_key=child_options["primary_key"],
                write_disposition="merge",
                columns={parent_key: {"nullable": False}},
            )(_nested_rows(child, parent_key))


def _endpoint(
    table: str, options: Mapping[str, Any], data_selector: str | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    for key in ("path", "primary_key"):
        if not options.get(key):
            raise LoadConfigurationError(f"resource {table!r} needs a {key}")
    endpoint: dict[str, Any] = {"path": options["path"], "params": dict(params)}
    if data_selector:
        endpoint["data_selector"] = data_selector
    if options.get("incremental"):
        endpoint["incremental"] = dict(options["incremental"])
    return endpoint


def nested_tables(table: str, options: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The nested lists of a resource that become tables of their own, with their options."""
    nested = dict(options.get("nested") or {})
    for child, child_options in nested.items():
        if not child_options.get("primary_key"):
            raise LoadConfigurationError(f"nested table {child!r} of {table!r} needs a primary_key")
    return nested


def _without(fields: tuple[str, ...]) -> Callable[[list[dict[str, Any]]], Iterator[Any]]:
    def rows(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Each row as the API returned it, without the lists that have tables of their own."""
        yield [{key: value for key, value in row.items() if key not in fields} for row in page]

    return rows


def _nested_rows(field: str, parent_key: str) -> Callable[[list[dict[str, Any]]], Iterator[Any]]:
    def rows(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """The rows nested under ``field`` of each row in the page, with their parent's key."""
        yield [
            {**child, parent_key: parent[parent_key]}
            for parent in page
            for child in parent.get(field) or []
        ]

    return rows


class ApiLoad(Load):
    """Paginated list endpoints of an HTTP API (see the module docstring)."""

    kind = "api"
    load_together = True

    def source(self, **config: Any) -> DltSource:
        return api_source.clone(name=self.name, section=self.name)(**{**self.config, **config})

    def definitions_source(self) -> DltSource:
        return self.source(api_token=DEFINITIONS_ONLY_TOKEN)

    def _resources(self) -> dict[str, Mapping[str, Any]]:
        return dict(self.setting("resources"))

    def source_systems(self) -> list[SourceSystem]:
        return [
            SourceSystem(table, f"`GET {options['path']}` of the {self.name} API")
            for table, options in self._resources().items()
        ]

    def reads(self, resource: str) -> list[str]:
        for table, options in self._resources().items():
            if resource in nested_tables(table, options):
                return [table]
        return [resource]

    def _count_paths(self) -> dict[str, str]:
        paths = {}
        for table, options in self._resources().items():
            for name, table_options in {table: options, **nested_tables(table, options)}.items():
                if table_options.get("count_path"):
                    paths[name] = table_options["count_path"]
        return paths

    def reconciled_tables(self) -> list[str]:
        return list(self._count_paths())

    def reconcile(self, pipeline: dlt.Pipeline) -> list[Reconciliation]:
        """Rows per table in raw against the total the API reports at each ``count_path``."""
        paths = self._count_paths()
        client = RESTClient(
            base_url=self.setting("base_url"),
            auth=BearerTokenAuth(self.setting("api_token", secret=True)),
        )
        raw_counts = count_rows(pipeline, list(paths))
        return [
            Reconciliation(
                raw_table=f"{self.dataset}.{table}",
                source=f"{self.name}: GET {path}",
                raw_rows=raw_counts[table],
                source_rows=self._count(client, path),
            )
            for table, path in paths.items()
        ]

    def _count(self, client: RESTClient, path: str) -> int:
        response = client.get(path)
        try:
            response.raise_for_status()
            return int(response.json()["count"])
        except (requests.HTTPError, ValueError, KeyError, TypeError) as error:
            raise SourceError(
                f'{self.name}: GET {path} did not answer {{"count": N}} '
                f"(HTTP {response.status_code}: {response.text[:200]!r}; {type(error).__name__})"
            ) from None
