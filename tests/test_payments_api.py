"""The demo payments API over real HTTP on loopback: auth, paging, filtering, 429s."""

import pytest
import requests
from helpers import free_port, shop_query, shop_url, simulator

from demo_sources.config import Mess
from demo_sources.payments_api import PaymentsApiServer

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def shop(fresh_server):
    simulator(fresh_server).init(10, scale="tiny", mess=Mess.none())
    return fresh_server


@pytest.fixture
def api(shop):
    with PaymentsApiServer(shop_url(shop), port=free_port(), token=TOKEN) as server:
        yield server


def all_pages(api, **params) -> tuple[list[dict], int]:
    payments, pages, cursor = [], 0, None
    while True:
        response = requests.get(
            f"{api.url}/v1/payments",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=AUTH,
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        payments.extend(body["data"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return payments, pages


def shop_count(server, sql: str, params: tuple = ()) -> int:
    return shop_query(server, sql, params)[0][0]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_missing_or_wrong_token_is_401_with_a_clear_body(api, headers):
    response = requests.get(f"{api.url}/v1/payments", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "Bearer" in response.json()["message"]


def test_pages_cover_every_payment_once_in_stable_order(api, shop):
    payments, pages = all_pages(api, limit=7)

    assert len(payments) == shop_count(shop, "select count(*) from payments.payments")
    assert len({payment["payment_id"] for payment in payments}) == len(payments)
    keys = [(payment["updated_at"], payment["payment_id"]) for payment in payments]
    assert keys == sorted(keys)
    assert pages == -(-len(payments) // 7)


def test_updated_since_filters(api, shop):
    everything, _ = all_pages(api, limit=500)
    since = everything[len(everything) // 2]["updated_at"]

    recent, _ = all_pages(api, updated_since=since, limit=50)

    assert recent
    assert all(payment["updated_at"] >= since for payment in recent)
    assert len(recent) == shop_count(
        shop, "select count(*) from payments.payments where updated_at >= %s", (since,)
    )


def test_refunds_are_nested_in_their_payment(api):
    payments, _ = all_pages(api, limit=500)
    refunded = [payment for payment in payments if payment["status"] == "refunded"]

    assert refunded
    for payment in refunded:
        assert [refund["amount_cents"] for refund in payment["refunds"]] == [
            payment["amount_cents"]
        ]
    assert all(payment["refunds"] == [] for payment in payments if payment["status"] == "succeeded")


def test_count_endpoints_report_the_services_totals(api, shop):
    counts = {
        collection: requests.get(f"{api.url}/v1/{collection}/count", headers=AUTH, timeout=10)
        for collection in ("payments", "refunds")
    }
    unauthorized = requests.get(f"{api.url}/v1/payments/count", timeout=10)

    assert counts["payments"].json() == {
        "count": shop_count(shop, "select count(*) from payments.payments")
    }
    assert counts["refunds"].json() == {
        "count": shop_count(shop, "select count(*) from payments.refunds")
    }
    assert unauthorized.status_code == 401


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": "x"}, {"cursor": "nonsense"}, {"updated_since": "yesterday"}]
)
def test_bad_parameters_are_400(api, params):
    response = requests.get(f"{api.url}/v1/payments", params=params, headers=AUTH, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]


def test_every_nth_request_is_429_with_retry_after(shop):
    with PaymentsApiServer(
        shop_url(shop), port=free_port(), token=TOKEN, rate_limit_every=3
    ) as api:
        statuses = [
            requests.get(f"{api.url}/v1/payments", headers=AUTH, timeout=10) for _ in range(6)
        ]

    assert [response.status_code for response in statuses] == [200, 200, 429, 200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "1"
    assert statuses[2].json()["error"] == "rate_limited"


def test_background_api_starts_once_and_stops(shop):
    import os
    import subprocess
    import sys

    port = str(free_port())
    env = {
        **os.environ,
        "SOURCES__SHOP__CREDENTIALS": shop_url(shop),
        "PLATFORM_DATA_DIR": str(shop.paths.data_dir),
        "PAYMENTS_API_TOKEN": TOKEN,
    }

    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "demo_sources", *args, "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    try:
        first, second = demo("api-up"), demo("api-up")
        response = requests.get(
            f"http://127.0.0.1:{port}/v1/payments", headers=AUTH, params={"limit": 1}, timeout=10
        )
    finally:
        stopped = demo("api-down")

    assert "started" in first.stdout, first.stderr
    assert "already runs" in second.stdout
    assert response.status_code == 200 and response.json()["data"]
    assert "stopped" in stopped.stdout
    assert "was not running" in demo("api-down").stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
