"""The demo payments service: a real HTTP API over the ``payments`` tables of the shop database.

``GET /v1/payments`` pages through payments in a stable order, ``(updated_at, payment_id)``:

- ``updated_since`` (ISO 8601): only payments changed at or after that instant;
- ``limit`` (1..500, default 100) and ``cursor`` (opaque, from the previous page's
  ``next_cursor``; ``null`` on the last page);
- each payment carries its ``refunds`` as a nested list; money is in integer cents.

``GET /v1/payments/count`` and ``GET /v1/refunds/count`` answer ``{"count": N}``: how many
payments and refunds the service holds, as list APIs document for reconciliation.

Requests need ``Authorization: Bearer <token>`` (``PAYMENTS_API_TOKEN``); without it the answer
is 401 with a JSON body saying so. With ``rate_limit_every=N`` every Nth request is refused with
429 and ``Retry-After``, as real APIs do under load.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from itertools import count
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from demo_sources.settings import api_token, connect
from warehouse.paths import platform_paths

MAX_LIMIT = 500
RETRY_AFTER_SECONDS = 1

PAGE_QUERY = """
select
    payments.payment_id,
    payments.order_id,
    (payments.amount * 100)::bigint as amount_cents,
    payments.currency,
    payments.method,
    payments.status,
    payments.created_at,
    payments.updated_at,
    coalesce(
        (
            select json_agg(
                json_build_object(
                    'refund_id', refunds.refund_id,
                    'payment_id', refunds.payment_id,
                    'amount_cents', (refunds.amount * 100)::bigint,
                    'reason', refunds.reason,
                    'created_at', refunds.created_at
                ) order by refunds.refund_id
            )
            from payments.refunds
            where refunds.payment_id = payments.payment_id
        ),
        '[]'::json
    ) as refunds
from payments.payments
where payments.updated_at >= %(updated_since)s
  and (payments.updated_at, payments.payment_id) > (%(after_updated_at)s, %(after_id)s)
order by payments.updated_at, payments.payment_id
limit %(limit)s
"""

EPOCH = "1970-01-01T00:00:00+00:00"


class BadRequest(ValueError):
    pass


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _encode_cursor(updated_at: datetime, payment_id: int) -> str:
    raw = json.dumps([_iso(updated_at), payment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        updated_at, payment_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        datetime.fromisoformat(updated_at)
        return updated_at, int(payment_id)
    except (binascii.Error, ValueError, TypeError):
        raise BadRequest("cursor is not one this API returned") from None


def _parse_params(request: Request) -> dict[str, object]:
    params = request.query_params
    updated_since = params.get("updated_since", EPOCH)
    try:
        datetime.fromisoformat(updated_since)
    except ValueError:
        raise BadRequest("updated_since must be an ISO 8601 timestamp") from None
    try:
        limit = int(params.get("limit", 100))
    except ValueError:
        raise BadRequest(f"limit must be an integer between 1 and {MAX_LIMIT}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer between 1 and {MAX_LIMIT}")
    after_updated_at, after_id = (
        _decode_cursor(params["cursor"]) if "cursor" in params else (EPOCH, 0)
    )
    return {
        "updated_since": updated_since,
        "after_updated_at": after_updated_at,
        "after_id": after_id,
        "limit": limit + 1,
    }


COUNT_QUERIES = {
    "payments": "select count(*) from payments.payments",
    "refunds": "select count(*) from payments.refunds",
}


def create_app(shop_url: str, *, token: str, rate_limit_every: int = 0) -> Starlette:
    """The payments API reading the payments tables of the shop database at ``shop_url``."""
    requests_seen = count(1)
    counter_lock = threading.Lock()

    def refusal(request: Request) -> JSONResponse | None:
        """401 without the token, 429 for every Nth request when rate limiting; else None."""
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse(
                {
                    "error": "unauthorized",
                    "message": "missing or invalid bearer token: "
                    "send 'Authorization: Bearer <PAYMENTS_API_TOKEN>'",
                },
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        with counter_lock:
            number = next(requests_seen)
        if rate_limit_every and number % rate_limit_every == 0:
            return JSONResponse(
                {"error": "rate_limited", "message": "too many requests: retry later"},
                status_code=429,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return None

    def list_payments(request: Request) -> JSONResponse:
        if refused := refusal(request):
            return refused
        try:
            params = _parse_params(request)
        except BadRequest as error:
            return JSONResponse({"error": "bad_request", "message": str(error)}, status_code=400)
        page_size = int(params["limit"]) - 1
        conn = connect(shop_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(PAGE_QUERY, params)
                columns = [column.name for column in cursor.description]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        finally:
            conn.close()
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        next_cursor = (
            _encode_cursor(rows[-1]["updated_at"], rows[-1]["payment_id"]) if has_more else None
        )
        for row in rows:
            row["created_at"], row["updated_at"] = _iso(row["created_at"]), _iso(row["updated_at"])
            for refund in row["refunds"]:
                refund["created_at"] = refund["created_at"].replace("+00:00", "Z")
        return JSONResponse({"data": rows, "next_cursor": next_cursor})

    def count_rows(request: Request) -> JSONResponse:
        if refused := refusal(request):
            return refused
        conn = connect(shop_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(COUNT_QUERIES[request.path_params["collection"]])
                return JSONResponse({"count": cursor.fetchone()[0]})
        finally:
            conn.close()

    def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/payments", list_payments),
            Route("/v1/{collection:str}/count", count_rows),
            Route("/health", health),
        ],
    )


class PaymentsApiServer:
    """The API served by uvicorn on 127.0.0.1 in a background thread, until :meth:`stop`."""

    def __init__(
        self,
        shop_url: str,
        *,
        port: int,
        token: str | None = None,
        rate_limit_every: int = 0,
    ):
        app = create_app(shop_url, token=token or api_token(), rate_limit_every=rate_limit_every)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="payments-api", daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> PaymentsApiServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the payments API could not start on {self.url}")
            self._thread.join(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    def __enter__(self) -> PaymentsApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class BackgroundApi:
    """The API as a detached process that outlives the command starting it (``make run``).

    It reads the same configuration as the command starting it. Its pid and log live in the data
    folder; :meth:`start` and :meth:`stop` are idempotent.
    """

    def __init__(self, port: int, data_dir: Path | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        data_dir = data_dir or platform_paths().data_dir
        self.pid_file = data_dir / "payments-api.pid"
        self.log_file = data_dir / "payments-api.log"

    def pid(self) -> int | None:
        """The pid of the running API process, or None."""
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self, timeout: float = 20.0) -> bool:
        """Start the API unless it runs; True if this call started it."""
        if self.pid() is not None:
            return False
        if self.healthy():
            raise RuntimeError(f"something else already answers on {self.url}: set a free port")
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "demo_sources", "api", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the payments API did not start; see {self.log_file}")
            time.sleep(0.1)
        return True

    def stop(self) -> bool:
        """Stop the API if it runs; True if this call stopped it."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        return True
