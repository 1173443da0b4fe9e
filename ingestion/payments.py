"""The payments API into ``raw_payments``, declared as config for dlt's ``rest_api`` source.

- **Auth**: a bearer token, ``api_token`` in ``[sources.payments]`` of the ignored
  ``.dlt/secrets.toml`` or ``SOURCES__PAYMENTS__API_TOKEN``; the base URL in ``.dlt/config.toml``.
- **Pages**: the API's own cursor (``next_cursor`` in each response, sent back as ``cursor``).
- **Incremental**: ``updated_since`` starts at the last ``updated_at`` loaded, and payments are
  merged on ``payment_id``. Each payment's nested ``refunds`` list becomes the child table
  ``payments__refunds``; a merged payment replaces its refunds, so they never duplicate.
- **Retries**: dlt's HTTP client retries 429 (honouring ``Retry-After``), 5xx and connection
  errors with exponential backoff (``[runtime] request_max_attempts`` in ``.dlt/config.toml``).
  A 401 stops the load at once, with the API's message.
- **Schema contract**: dlt's ``evolve``. A new field becomes a new column; a value of another
  type than its column's goes to a variant column (e.g. ``amount_cents__v_text``) instead of
  failing the load or being lost.
"""

from __future__ import annotations

from collections.abc import Iterator

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
    """Payments with their refunds, changed since the last load."""
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
                "name": "payments",
                "primary_key": "payment_id",
                "write_disposition": "merge",
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
    yield from rest_api_resources(config)


def payments_pipeline(settings: WarehouseSettings, progress: str | None = None) -> dlt.Pipeline:
    """The pipeline that loads :func:`payments_source` into ``raw_payments``."""
    return warehouse_pipeline("payments", DATASET_NAME, settings, progress)
