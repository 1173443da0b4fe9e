"""The payments API into ``raw_payments``, declared as config for dlt's ``rest_api`` source.

- **Auth**: a bearer token, ``api_token`` in ``[sources.payments]`` of the ignored
  ``.dlt/secrets.toml`` or ``SOURCES__PAYMENTS__API_TOKEN``; the base URL in ``.dlt/config.toml``.
- **Pages**: the API's own cursor (``next_cursor`` in each response, sent back as ``cursor``).
- **Incremental**: ``updated_since`` starts at the last ``updated_at`` loaded, and payments are
  merged on ``payment_id``. The API nests each payment's refunds; they are split off into
  their own resource and table, ``refunds``, merged on ``refund_id``. One resource per raw
  table keeps each table its own Dagster asset (dagster-dlt makes one asset per resource).
- **Retries**: dlt's HTTP client retries 429 (honouring ``Retry-After``), 5xx and connection
  errors with exponential backoff (``[runtime] request_max_attempts`` in ``.dlt/config.toml``).
  A 401 stops the load at once, with the API's message.
- **Schema contract**: dlt's ``evolve``. A new field becomes a new column; a value of another
  type than its column's goes to a variant column (e.g. ``amount_cents__v_text``) instead of
  failing the load or being lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from ingestion.pipelines import warehouse_pipeline
from warehouse.settings import WarehouseSettings

DATASET_NAME = "raw_payments"
INITIAL_UPDATED_SINCE = "1970-01-01T00:00:00Z"


@dlt.source(name="payments")
def payments_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    page_size: int = 500,
) -> Iterator[DltResource]:
    """Payments and their refunds, changed since the last load: resources ``payments`` and
    ``refunds``, both fed by one paginated read of ``GET /v1/payments``."""
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": api_token},
            "paginator": {
                "type": "cursor",
                "cursor_path": "next_cursor",
                "cursor_param": "cursor",
            },
        },
        "resources": [
            {
                # Read once, not loaded itself: the two resources below fork its pages.
                "name": "payment_pages",
                "selected": False,
                "endpoint": {
                    "path": "v1/payments",
                    "data_selector": "data",
                    "params": {"limit": page_size},
                    "incremental": {
                        "start_param": "updated_since",
                        "cursor_path": "updated_at",
                        "initial_value": INITIAL_UPDATED_SINCE,
                    },
                },
            },
        ],
    }
    (payment_pages,) = rest_api_resources(config)
    yield payment_pages
    yield payment_pages | payments
    yield payment_pages | refunds


@dlt.transformer(name="payments", primary_key="payment_id", write_disposition="merge")
def payments(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Each payment as the API returned it, without its nested refunds."""
    yield [{key: value for key, value in payment.items() if key != "refunds"} for payment in page]


@dlt.transformer(
    name="refunds",
    primary_key="refund_id",
    write_disposition="merge",
    columns={"payment_id": {"data_type": "bigint", "nullable": False}},
)
def refunds(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The refunds of each payment in the page, each carrying its ``payment_id``."""
    yield [
        {**refund, "payment_id": payment["payment_id"]}
        for payment in page
        for refund in payment.get("refunds") or []
    ]


def payments_pipeline(settings: WarehouseSettings, progress: str | None = None) -> dlt.Pipeline:
    """The pipeline that loads :func:`payments_source` into ``raw_payments``."""
    return warehouse_pipeline("payments", DATASET_NAME, settings, progress)
