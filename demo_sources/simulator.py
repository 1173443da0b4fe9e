"""Time moves in the demo shop: a seeded simulator that writes history and advances the clock.

Each simulated day draws from its own random generator, seeded by ``(seed, date)``, and changes
the shop in one transaction: new customers, price changes, profile changes, new orders with
their items, status transitions with their payments and refunds, and a few deletions of customers
who never ordered (erasure requests). It also delivers that day's event file and marketing CSV
into the landing folder. The same seed and the same sequence of calls give the same tables and
byte-identical files.

Rows go to Postgres with COPY and files are built with Arrow's string kernels, so generating
millions of rows costs seconds, not a Python loop per row.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg2.extensions import cursor as Cursor

from demo_sources.config import DEFAULT_SEED, DEFAULT_START_DATE, SCALES, Mess, Scale
from demo_sources.settings import connect, ensure_database, with_user
from demo_sources.shop import READER_DDL, READERS, SCHEMA_DDL

MS_PER_DAY = 86_400_000
OPEN_ORDER_WINDOW_DAYS = 30
"""Orders older than this are settled: they change status no more."""

FIRST_NAMES = np.array(
    [
        "Ada",
        "Alan",
        "Grace",
        "Hedy",
        "Katherine",
        "Linus",
        "Margaret",
        "Dennis",
        "Barbara",
        "Ken",
        "Frances",
        "Edsger",
        "Radia",
        "Tim",
        "Sophie",
        "John",
        "Mary",
        "Claude",
        "Donald",
        "Lynn",
    ]
)
LAST_NAMES = np.array(
    [
        "Lovelace",
        "Turing",
        "Hopper",
        "Lamarr",
        "Johnson",
        "Torvalds",
        "Hamilton",
        "Ritchie",
        "Liskov",
        "Thompson",
        "Allen",
        "Dijkstra",
        "Perlman",
        "Berners-Lee",
        "Wilson",
        "McCarthy",
        "Shaw",
        "Shannon",
        "Knuth",
        "Conway",
    ]
)
COUNTRIES = np.array(["DE", "FR", "GB", "NL", "ES", "IT", "US", "SE", "PL", "AT"])
COUNTRY_WEIGHTS = np.array([0.22, 0.16, 0.14, 0.08, 0.08, 0.08, 0.12, 0.04, 0.04, 0.04])
SEGMENTS = np.array(["consumer", "small_business", "enterprise"])
SEGMENT_WEIGHTS = np.array([0.8, 0.15, 0.05])
CATEGORIES = np.array(["books", "electronics", "garden", "kitchen", "toys", "sports"])
PAYMENT_METHODS = np.array(["card", "paypal", "bank_transfer", "gift_card"])
PAYMENT_METHOD_WEIGHTS = np.array([0.6, 0.25, 0.1, 0.05])
CHANNELS = ("search", "social", "display", "email", "affiliate")

BROWSING_EVENT_TYPES = np.array(["page_view", "product_view", "add_to_cart", "checkout"])
BROWSING_EVENT_WEIGHTS = np.array([0.5, 0.3, 0.15, 0.05])
EVENT_TYPES = (*BROWSING_EVENT_TYPES.tolist(), "purchase")
"""Every event type the shop emits; anything else in a file is an unknown type."""
UNKNOWN_EVENT_TYPE = "mystery_event"
OTHER_TIMESTAMP_FORMAT = "%d/%m/%Y %H:%M:%S"

STATUS_TRANSITIONS = {
    # from status: [(to status, daily probability), ...]
    "placed": [("paid", 0.6), ("cancelled", 0.05)],
    "paid": [("shipped", 0.6)],
    "shipped": [("completed", 0.5)],
    "completed": [("returned", 0.01)],
}


class SimulatorError(RuntimeError):
    """The simulator cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class SimulatorState:
    seed: int
    scale: Scale
    mess: Mess
    start_date: date
    next_date: date


@dataclass(frozen=True)
class DaySummary:
    day: date
    new_customers: int
    changed_customers: int
    deleted_customers: int
    price_changes: int
    new_orders: int
    status_changes: int
    payments: int
    refunds: int
    events_delivered: int


class ShopSimulator:
    """The demo shop in the database at ``shop_url`` (as its owner), and its landing folder of
    event and CSV files at ``landing_url`` (a local folder, or any fsspec URL)."""

    def __init__(self, shop_url: str, landing_url: str | Path):
        self.shop_url = shop_url
        self.landing_url = str(landing_url)
        self._fs, self._landing_root = fsspec.core.url_to_fs(self.landing_url)

    @property
    def landing_dir(self) -> Path:
        """The landing folder, when it is a local one."""
        return Path(self._landing_root)

    def reader_url(self, user: str) -> str:
        """The shop's URL as one of its read-only users (``READERS``)."""
        return with_user(self.shop_url, user, READERS[user][0])

    @property
    def events_dir(self) -> Path:
        return self.landing_dir / "events"

    @property
    def marketing_dir(self) -> Path:
        return self.landing_dir / "marketing"

    def state(self) -> SimulatorState | None:
        """The simulator's settings and clock, or None before :meth:`init`."""
        ensure_database(self.shop_url)
        conn = connect(self.shop_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute(SCHEMA_DDL)
                for user, (password, schema) in READERS.items():
                    cursor.execute(
                        READER_DDL, {"user": user, "password": password, "schema": schema}
                    )
                return _read_state(cursor)
        finally:
            conn.close()

    def init(
        self,
        days: int,
        *,
        scale: str = "default",
        seed: int = DEFAULT_SEED,
        mess: Mess | None = None,
        start_date: date = DEFAULT_START_DATE,
    ) -> list[DaySummary]:
        """Create the shop with its product catalogue and ``days`` days of history.

        Does nothing if the shop was already initialised (with any settings): advance it instead.
        """
        if scale not in SCALES:
            raise SimulatorError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
        if self.state() is not None:
            return []
        conn = connect(self.shop_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute("set time zone 'UTC'")
                _insert_products(cursor, SCALES[scale], seed, start_date)
                cursor.execute(
                    """
                    insert into simulator.state (seed, scale, mess, start_date, next_date)
                    values (%s, %s, %s, %s, %s)
                    """,
                    (seed, scale, json.dumps((mess or Mess()).as_dict()), start_date, start_date),
                )
        finally:
            conn.close()
        return self.advance(days)

    def advance(self, days: int = 1) -> list[DaySummary]:
        """Simulate the next ``days`` days, one transaction per day."""
        state = self.state()
        if state is None:
            raise SimulatorError("the demo shop is not initialised: run `make demo-init` first")
        summaries = []
        for _ in range(days):
            summaries.append(self._simulate_next_day())
        return summaries

    def _simulate_next_day(self) -> DaySummary:
        conn = connect(self.shop_url)
        try:
            with conn, conn.cursor() as cursor:
                cursor.execute("set time zone 'UTC'")
                cursor.execute("select 1 from simulator.state for update")
                state = _read_state(cursor)
                assert state is not None
                day = state.next_date
                summary, files = _simulate_day(cursor, state, day)
                for path, content in files.items():
                    _deliver(self._fs, f"{self._landing_root}/{path}", content)
                cursor.execute(
                    "update simulator.state set next_date = %s", (day + timedelta(days=1),)
                )
            return summary
        finally:
            conn.close()


def _read_state(cursor: Cursor) -> SimulatorState | None:
    cursor.execute("select seed, scale, mess, start_date, next_date from simulator.state")
    row = cursor.fetchone()
    if row is None:
        return None
    seed, scale, mess, start_date, next_date = row
    return SimulatorState(seed, SCALES[scale], Mess(**mess), start_date, next_date)


def _rng(seed: int, day: date, purpose: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, day.toordinal(), purpose])


def _timestamps(day: date, offsets_ms: np.ndarray) -> pa.Array:
    base = np.datetime64(day.isoformat(), "ms")
    return pa.array(base + offsets_ms.astype("timedelta64[ms]"), pa.timestamp("ms", tz="UTC"))


def _copy(cursor: Cursor, table: str, data: pa.Table) -> None:
    """COPY ``data`` into ``table`` (columns by name) through an in-memory CSV."""
    if data.num_rows == 0:
        return
    buffer = io.BytesIO()
    pa_csv.write_csv(data, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    columns = ", ".join(data.column_names)
    cursor.copy_expert(f"copy {table} ({columns}) from stdin with (format csv)", buffer)


def _temp_table(cursor: Cursor, name: str, columns: str, data: pa.Table) -> None:
    cursor.execute(f"create temp table {name} ({columns}) on commit drop")
    _copy(cursor, name, data)


def _ids(cursor: Cursor, sql: str, params: tuple = ()) -> np.ndarray:
    """The single bigint column of a query, fetched with COPY: millions of ids in a second."""
    buffer = io.BytesIO()
    cursor.copy_expert(f"copy ({cursor.mogrify(sql, params).decode()}) to stdout", buffer)
    if buffer.tell() == 0:
        return np.empty(0, dtype=np.int64)
    buffer.seek(0)
    table = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=["id"]),
        convert_options=pa_csv.ConvertOptions(column_types={"id": pa.int64()}),
    )
    return table["id"].to_numpy()


def _next_id(cursor: Cursor, table: str, column: str) -> int:
    cursor.execute(f"select coalesce(max({column}), 0) + 1 from {table}")
    return cursor.fetchone()[0]


def _insert_products(cursor: Cursor, scale: Scale, seed: int, start_date: date) -> None:
    rng = _rng(seed, start_date - timedelta(days=1))
    count = scale.products
    ids = np.arange(1, count + 1)
    categories = CATEGORIES[rng.integers(len(CATEGORIES), size=count)]
    created = _timestamps(start_date - timedelta(days=1), np.zeros(count, dtype=np.int64))
    sku = pc.binary_join_element_wise("SKU-", pa.array(ids).cast(pa.string()), "")
    names = pc.binary_join_element_wise(
        pa.array(categories), " item #", pa.array(ids).cast(pa.string()), ""
    )
    _copy(
        cursor,
        "products",
        pa.table(
            {
                "product_id": ids,
                "sku": sku,
                "name": names,
                "category": categories,
                "price": np.round(rng.lognormal(3.0, 0.8, size=count) + 1, 2),
                "created_at": created,
                "updated_at": created,
            }
        ),
    )


def _simulate_day(
    cursor: Cursor, state: SimulatorState, day: date
) -> tuple[DaySummary, dict[str, bytes]]:
    rng = _rng(state.seed, day)
    scale = state.scale

    # Every customer so far was created before today; ids only grow, so the day's list of
    # customers is kept in memory rather than fetched again after each step.
    existing = _ids(cursor, "select customer_id from customers order by customer_id")
    new_customers = _add_customers(cursor, rng, scale, day)
    changed_customers = _change_customers(cursor, rng, day, existing)
    price_changes, prices = _change_prices(cursor, rng, day)
    customer_ids = np.concatenate([existing, new_customers])
    order_ids, order_customers, ordered_ms = _add_orders(
        cursor, rng, scale, day, prices, customer_ids
    )
    status_changes, payments, refunds = _move_orders(cursor, rng, day)
    deleted = _delete_customers(cursor, rng, day)
    customer_ids = np.setdiff1d(customer_ids, deleted, assume_unique=True)

    event_lines = _event_lines(
        _rng(state.seed, day, purpose=1),
        day,
        scale,
        customer_ids,
        order_ids,
        order_customers,
        ordered_ms,
        len(prices),
    )
    events_file, delivered = _deliver_events(
        cursor, _rng(state.seed, day, purpose=2), state.mess, event_lines
    )
    marketing_file = _marketing_csv(_rng(state.seed, day, purpose=3), state.mess, day)

    summary = DaySummary(
        day=day,
        new_customers=new_customers.size,
        changed_customers=changed_customers,
        deleted_customers=deleted.size,
        price_changes=price_changes,
        new_orders=len(order_ids),
        status_changes=status_changes,
        payments=payments,
        refunds=refunds,
        events_delivered=delivered,
    )
    files = {
        f"events/{day.isoformat()}.jsonl.gz": events_file,
        f"marketing/{day.isoformat()}.csv": marketing_file,
    }
    return summary, files


def _add_customers(cursor: Cursor, rng: np.random.Generator, scale: Scale, day: date) -> np.ndarray:
    count = max(1, int(rng.poisson(scale.customers_per_day)))
    start = _next_id(cursor, "customers", "customer_id")
    ids = np.arange(start, start + count, dtype=np.int64)
    first = FIRST_NAMES[rng.integers(len(FIRST_NAMES), size=count)]
    last = LAST_NAMES[rng.integers(len(LAST_NAMES), size=count)]
    created = _timestamps(day, np.sort(rng.integers(MS_PER_DAY, size=count)))
    id_text = pa.array(ids).cast(pa.string())
    email = pc.utf8_lower(
        pc.binary_join_element_wise(
            pa.array(first), ".", pa.array(last), id_text, "@example.com", ""
        )
    )
    _copy(
        cursor,
        "customers",
        pa.table(
            {
                "customer_id": ids,
                "name": pc.binary_join_element_wise(pa.array(first), pa.array(last), " "),
                "email": email,
                "country": rng.choice(COUNTRIES, size=count, p=COUNTRY_WEIGHTS),
                "segment": rng.choice(SEGMENTS, size=count, p=SEGMENT_WEIGHTS),
                "created_at": created,
                "updated_at": created,
            }
        ),
    )
    return ids


def _change_customers(
    cursor: Cursor, rng: np.random.Generator, day: date, existing: np.ndarray
) -> int:
    """Some customers created before ``day`` change segment, and a few move country."""
    if existing.size == 0:
        return 0
    count = min(existing.size, 1 + int(rng.poisson(existing.size * 0.005)))
    chosen = np.sort(rng.choice(existing, size=count, replace=False))
    _temp_table(
        cursor,
        "changed_customers",
        "customer_id bigint, segment text, country text, moves boolean, updated_at timestamptz",
        pa.table(
            {
                "customer_id": chosen,
                "segment": rng.choice(SEGMENTS, size=count, p=SEGMENT_WEIGHTS),
                "country": rng.choice(COUNTRIES, size=count, p=COUNTRY_WEIGHTS),
                "moves": rng.random(count) < 0.3,
                "updated_at": _timestamps(day, rng.integers(MS_PER_DAY, size=count)),
            }
        ),
    )
    cursor.execute(
        """
        update customers
        set segment = changed.segment,
            country = case when changed.moves then changed.country else customers.country end,
            updated_at = changed.updated_at
        from changed_customers as changed
        where customers.customer_id = changed.customer_id
        """
    )
    return count


def _change_prices(cursor: Cursor, rng: np.random.Generator, day: date) -> tuple[int, np.ndarray]:
    """A few products change price; returns the count and every product's price after it."""
    cursor.execute("select price from products order by product_id")
    prices = np.array([float(row[0]) for row in cursor])
    count = min(prices.size, 1 + int(rng.poisson(prices.size * 0.01)))
    chosen = np.sort(rng.choice(prices.size, size=count, replace=False))
    prices[chosen] = np.maximum(0.5, np.round(prices[chosen] * rng.uniform(0.85, 1.15, count), 2))
    _temp_table(
        cursor,
        "changed_prices",
        "product_id bigint, price numeric(10, 2), updated_at timestamptz",
        pa.table(
            {
                "product_id": chosen + 1,
                "price": prices[chosen],
                "updated_at": _timestamps(day, rng.integers(MS_PER_DAY, size=count)),
            }
        ),
    )
    cursor.execute(
        """
        update products
        set price = changed_prices.price, updated_at = changed_prices.updated_at
        from changed_prices
        where products.product_id = changed_prices.product_id
        """
    )
    return count, prices


def _add_orders(
    cursor: Cursor,
    rng: np.random.Generator,
    scale: Scale,
    day: date,
    prices: np.ndarray,
    customers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = int(rng.poisson(scale.orders_per_day))
    start = _next_id(cursor, "orders", "order_id")
    order_ids = np.arange(start, start + count, dtype=np.int64)
    order_customers = rng.choice(customers, size=count)
    ordered_ms = np.sort(rng.integers(MS_PER_DAY, size=count))
    ordered_at = _timestamps(day, ordered_ms)
    _copy(
        cursor,
        "orders",
        pa.table(
            {
                "order_id": order_ids,
                "customer_id": order_customers,
                "status": pa.array(["placed"] * count),
                "ordered_at": ordered_at,
                "updated_at": ordered_at,
            }
        ),
    )
    items_per_order = 1 + np.minimum(rng.poisson(0.8, size=count), 4)
    item_count = int(items_per_order.sum())
    item_start = _next_id(cursor, "order_items", "order_item_id")
    product_index = rng.integers(prices.size, size=item_count)
    item_created = _timestamps(day, np.repeat(ordered_ms, items_per_order))
    _copy(
        cursor,
        "order_items",
        pa.table(
            {
                "order_item_id": np.arange(item_start, item_start + item_count, dtype=np.int64),
                "order_id": np.repeat(order_ids, items_per_order),
                "product_id": product_index + 1,
                "quantity": 1 + rng.poisson(0.3, size=item_count),
                "unit_price": prices[product_index],
                "created_at": item_created,
                "updated_at": item_created,
            }
        ),
    )
    return order_ids, order_customers, ordered_ms


def _move_orders(cursor: Cursor, rng: np.random.Generator, day: date) -> tuple[int, int, int]:
    """Open orders move through their life cycle; payments and refunds follow.

    Millions of orders can be open, so the draws happen in Postgres: a hash of each order id
    salted from the day's generator is that order's uniform draw, the same on every run.
    """
    status_salt, time_salt, method_salt = (int(salt) for salt in rng.integers(2**62, size=3))
    cursor.execute(
        f"""
        create temp table moved_orders on commit drop as
        select order_id, from_status, status,
               %(day)s::timestamptz
                   + {_draw("order_id", time_salt)} * interval '1 day' as updated_at,
               {_choice(_draw("order_id", method_salt), PAYMENT_METHODS, PAYMENT_METHOD_WEIGHTS)}
                   as method
        from (
            select order_id, status as from_status, {_transition("status", "draw")} as status
            from (
                select order_id, status, {_draw("order_id", status_salt)} as draw
                from orders
                where status in ({", ".join(f"'{status}'" for status in STATUS_TRANSITIONS)})
                  and ordered_at >= %(opened)s and ordered_at < %(day)s
            ) as open_orders
        ) as transitions
        where status is not null
        """,
        {"day": day, "opened": day - timedelta(days=OPEN_ORDER_WINDOW_DAYS)},
    )
    cursor.execute("analyze moved_orders")
    cursor.execute("select min(order_id), max(order_id) from moved_orders")
    # The id range lets the planner read only recent orders and items, not whole tables.
    bounds = dict(zip(("low", "high"), cursor.fetchone(), strict=True))
    cursor.execute(
        """
        update orders set status = moved_orders.status, updated_at = moved_orders.updated_at
        from moved_orders
        where orders.order_id = moved_orders.order_id
          and orders.order_id between %(low)s and %(high)s
        """,
        bounds,
    )
    cursor.execute(
        """
        insert into payments.payments
            (payment_id, order_id, amount, method, status, created_at, updated_at)
        select (select coalesce(max(payment_id), 0) from payments.payments)
                   + row_number() over (order by moved_orders.order_id),
               moved_orders.order_id, totals.amount, moved_orders.method, 'succeeded',
               moved_orders.updated_at, moved_orders.updated_at
        from moved_orders
        join (
            select order_id, sum(quantity * unit_price) as amount
            from order_items
            where order_id in (select order_id from moved_orders where status = 'paid')
              and order_id between %(low)s and %(high)s
            group by order_id
        ) as totals on totals.order_id = moved_orders.order_id
        where moved_orders.status = 'paid'
        """,
        bounds,
    )
    cursor.execute(
        """
        insert into payments.refunds (refund_id, payment_id, amount, reason, created_at)
        select (select coalesce(max(refund_id), 0) from payments.refunds)
                   + row_number() over (order by payments.payment_id),
               payments.payment_id, payments.amount, 'order returned', moved_orders.updated_at
        from moved_orders
        join payments.payments on payments.order_id = moved_orders.order_id
        where moved_orders.status = 'returned'
        """
    )
    cursor.execute(
        """
        update payments.payments
        set status = 'refunded', updated_at = moved_orders.updated_at
        from moved_orders
        where payments.order_id = moved_orders.order_id and moved_orders.status = 'returned'
        """
    )
    cursor.execute(
        """
        select count(*), count(*) filter (where status = 'paid'),
               count(*) filter (where status = 'returned')
        from moved_orders
        """
    )
    moved, paid, returned = cursor.fetchone()
    return moved, paid, returned


def _draw(column: str, salt: int) -> str:
    """SQL for a uniform draw in [0, 1) from a bigint column: its 53-bit salted hash."""
    return f"((hashint8extended({column}, {salt}) & {2**53 - 1})::float8 / {float(2**53)!r})"


def _choice(draw: str, options: np.ndarray, weights: np.ndarray) -> str:
    """SQL choosing one of ``options`` with ``weights`` by a uniform ``draw``."""
    bounds = np.cumsum(weights)[:-1].tolist()
    whens = " ".join(
        f"when {draw} < {bound!r} then '{option}'"
        for option, bound in zip(options[:-1], bounds, strict=True)
    )
    return f"case {whens} else '{options[-1]}' end"


def _transition(status: str, draw: str) -> str:
    """SQL for an order's next status given its draw, from ``STATUS_TRANSITIONS``."""
    whens = []
    for from_status, outcomes in STATUS_TRANSITIONS.items():
        threshold = 0.0
        for to_status, probability in outcomes:
            whens.append(
                f"when {status} = '{from_status}' and {draw} >= {threshold!r}"
                f" and {draw} < {threshold + probability!r} then '{to_status}'"
            )
            threshold += probability
    return f"case {' '.join(whens)} end"


def _delete_customers(cursor: Cursor, rng: np.random.Generator, day: date) -> np.ndarray:
    """Erasure requests: a few customers who never ordered are deleted outright."""
    candidates = _ids(
        cursor,
        """
        select customer_id from customers
        where created_at < %s
          and not exists (select 1 from orders where orders.customer_id = customers.customer_id)
        order by customer_id
        """,
        (day,),
    )
    if candidates.size == 0:
        return candidates
    count = min(candidates.size, 1 + int(rng.poisson(candidates.size * 0.002)))
    chosen = np.sort(rng.choice(candidates, size=count, replace=False))
    cursor.execute("delete from customers where customer_id = any(%s)", (chosen.tolist(),))
    return chosen


def _event_lines(
    rng: np.random.Generator,
    day: date,
    scale: Scale,
    customer_ids: np.ndarray,
    order_ids: np.ndarray,
    order_customers: np.ndarray,
    ordered_ms: np.ndarray,
    product_count: int,
) -> pa.Array:
    """The day's web events as JSON lines, in time order: browsing sessions and purchases."""
    browsing = max(1, order_ids.size * (scale.events_per_order - 1))
    sessions = max(1, browsing // 6)
    session_user = np.where(rng.random(sessions) < 0.6, rng.choice(customer_ids, size=sessions), -1)
    session_start = rng.integers(MS_PER_DAY - 20 * 60_000, size=sessions)
    session_of_event = rng.integers(sessions, size=browsing)
    browse_ms = session_start[session_of_event] + rng.integers(20 * 60_000, size=browsing)
    browse_type = rng.choice(len(BROWSING_EVENT_TYPES), size=browsing, p=BROWSING_EVENT_WEIGHTS)

    stamp = day.strftime("%Y%m%d")
    session_text = pc.binary_join_element_wise(
        f"s_{stamp}_", pa.array(session_of_event).cast(pa.string()), ""
    )
    purchase_sessions = pc.binary_join_element_wise(
        f"s_{stamp}_o", pa.array(order_ids).cast(pa.string()), ""
    )
    occurred_ms = np.concatenate([browse_ms, ordered_ms])
    type_index = np.concatenate([browse_type, np.full(order_ids.size, len(BROWSING_EVENT_TYPES))])
    user = np.concatenate([session_user[session_of_event], order_customers])
    session_id = pa.concat_arrays([session_text, purchase_sessions])
    product = pa.array(1 + rng.integers(product_count, size=occurred_ms.size)).cast(pa.string())
    quantity = pa.array(1 + rng.poisson(0.3, size=occurred_ms.size)).cast(pa.string())
    cart_value = pa.array(np.round(rng.lognormal(3.5, 0.7, occurred_ms.size), 2)).cast(pa.string())
    related_order = np.concatenate([np.zeros(browsing, dtype=np.int64), order_ids])

    order = np.lexsort((np.arange(occurred_ms.size), occurred_ms))
    occurred_ms, type_index, user = occurred_ms[order], type_index[order], user[order]
    take = pa.array(order)
    session_id, product, quantity, cart_value = (
        column.take(take) for column in (session_id, product, quantity, cart_value)
    )
    related_order = pa.array(related_order[order]).cast(pa.string())

    event_id = pc.binary_join_element_wise(
        f"evt_{stamp}_", pc.utf8_lpad(pa.array(np.arange(order.size)).cast(pa.string()), 8, "0"), ""
    )
    event_type = pa.array(np.array(EVENT_TYPES)[type_index])
    properties = pc.choose(
        pa.array(type_index),
        pc.binary_join_element_wise('{"path":"/products/', product, '"}', ""),
        pc.binary_join_element_wise('{"product_id":', product, "}", ""),
        pc.binary_join_element_wise('{"product_id":', product, ',"quantity":', quantity, "}", ""),
        pc.binary_join_element_wise('{"cart_value":', cart_value, "}", ""),
        pc.binary_join_element_wise('{"order_id":', related_order, "}", ""),
    )
    user_text = pc.if_else(pa.array(user >= 0), pa.array(user).cast(pa.string()), pa.scalar("null"))
    occurred_at = pc.strftime(_timestamps(day, occurred_ms), format="%Y-%m-%dT%H:%M:%SZ")
    return pa.table(
        {
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "other_format": pc.strftime(
                _timestamps(day, occurred_ms), format=OTHER_TIMESTAMP_FORMAT
            ),
            "session_id": session_id,
            "user_id": user_text,
            "properties": properties,
        }
    )


def _json_lines(events: pa.Table, event_type: pa.Array, occurred_at: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(
        '{"event_id":"',
        events["event_id"],
        '","event_type":"',
        event_type,
        '","occurred_at":"',
        occurred_at,
        '","session_id":"',
        events["session_id"],
        '","user_id":',
        events["user_id"],
        ',"properties":',
        events["properties"],
        "}",
        "",
    )


def _deliver_events(
    cursor: Cursor, rng: np.random.Generator, mess: Mess, events: pa.Table
) -> tuple[bytes, int]:
    """Apply the day's mess, hold back late events, and return the gzipped file and its size."""
    count = events.num_rows
    unknown = pa.array(rng.random(count) < mess.unknown_event_type_rate)
    other_format = pa.array(rng.random(count) < mess.other_timestamp_format_rate)
    lines = _json_lines(
        events,
        pc.if_else(unknown, pa.scalar(UNKNOWN_EVENT_TYPE), events["event_type"].combine_chunks()),
        pc.if_else(
            other_format,
            events["other_format"].combine_chunks(),
            events["occurred_at"].combine_chunks(),
        ),
    ).combine_chunks()

    duplicated = np.flatnonzero(rng.random(count) < mess.duplicate_event_rate)
    late = rng.random(count) < mess.late_event_rate
    positions = np.sort(np.concatenate([np.arange(count), duplicated]), kind="stable")
    late = late[positions]
    lines = lines.take(pa.array(positions))
    on_time, held_back = lines.filter(pa.array(~late)), lines.filter(pa.array(late))

    cursor.execute("select line from simulator.late_events order by position")
    arrived_late = pa.array([row[0] for row in cursor], pa.string())
    cursor.execute("delete from simulator.late_events")
    delivered = pa.concat_arrays([arrived_late, on_time])

    if rng.random() < mess.malformed_line_chance and len(delivered):
        at = int(rng.integers(len(delivered)))
        broken = delivered[at].as_py()[: len(delivered[at].as_py()) // 2]
        delivered = pa.concat_arrays(
            [delivered.slice(0, at), pa.array([broken]), delivered.slice(at)]
        )
    if rng.random() < mess.empty_file_chance:
        held_back, delivered = pa.concat_arrays([delivered, held_back]), pa.array([], pa.string())

    _copy(
        cursor,
        "simulator.late_events",
        pa.table({"position": np.arange(len(held_back)), "line": held_back}),
    )
    return _gzip(_join_lines(delivered)), len(delivered)


def _join_lines(lines: pa.Array) -> bytes:
    """Lines ending in newlines, concatenated: the data buffer of a string array is just that."""
    if len(lines) == 0:
        return b""
    terminated = pc.binary_join_element_wise(lines, "\n", "").cast(pa.large_string())
    offsets = np.frombuffer(terminated.buffers()[1], dtype=np.int64)
    start, end = offsets[terminated.offset], offsets[terminated.offset + len(terminated)]
    return terminated.buffers()[2][start:end].to_pybytes()


def _gzip(content: bytes) -> bytes:
    """gzip with no timestamp or file name in the header, so the bytes depend on content only."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=1) as out:
        out.write(content)
    return buffer.getvalue()


def _marketing_csv(rng: np.random.Generator, mess: Mess, day: date) -> bytes:
    """The day's marketing spend by channel and campaign, as the ad platforms export it."""
    extra_column = rng.random() < mess.extra_csv_column_chance
    header = ["date", "channel", "campaign", "spend", "impressions", "clicks"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, "currency"] if extra_column else header)
    for channel in CHANNELS:
        for campaign in range(1, 3):
            impressions = int(rng.integers(1_000, 50_000))
            row = [
                day.isoformat(),
                channel,
                f"{channel}_{campaign:02d}",
                f"{rng.gamma(4.0, 40.0):.2f}",
                impressions,
                int(impressions * rng.uniform(0.005, 0.05)),
            ]
            writer.writerow([*row, "EUR"] if extra_column else row)
    return buffer.getvalue().encode()


def _deliver(fs: fsspec.AbstractFileSystem, path: str, content: bytes) -> None:
    """Write a landing file once, whole (written aside, then moved into place: a loader never
    sees half a file); a file already delivered is never rewritten."""
    if fs.exists(path):
        if fs.cat_file(path) == content:
            return
        raise SimulatorError(f"{path} was already delivered with other content: not rewriting it")
    folder, name = path.rsplit("/", 1)
    fs.makedirs(folder, exist_ok=True)
    partial = f"{folder}/.{name}.partial"
    fs.pipe_file(partial, content)
    fs.mv(partial, path)
