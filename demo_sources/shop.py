"""The demo shop's operational database: a ``shop`` database on the warehouse server.

``seed`` creates the schema an application would have (primary keys, foreign keys, indexes) and a
small fixed set of customers and orders. It is idempotent: running it again changes nothing.
"""

from __future__ import annotations

from warehouse.connection import connect, ensure_database
from warehouse.settings import SHOP_DATABASE, WarehouseSettings

SCHEMA_DDL = """
create table if not exists customers (
    customer_id bigint primary key,
    name text not null,
    email text not null unique,
    country char(2) not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table if not exists orders (
    order_id bigint primary key,
    customer_id bigint not null references customers (customer_id),
    status text not null check (status in ('placed', 'paid', 'shipped', 'completed', 'cancelled')),
    amount numeric(12, 2) not null check (amount >= 0),
    ordered_at timestamptz not null,
    updated_at timestamptz not null
);

create index if not exists orders_customer_id_idx on orders (customer_id);
create index if not exists orders_updated_at_idx on orders (updated_at);
create index if not exists customers_updated_at_idx on customers (updated_at);
"""

CUSTOMERS = [
    (1, "Ada Lovelace", "ada@example.com", "GB", "2026-01-03 09:12:00+00"),
    (2, "Grace Hopper", "grace@example.com", "US", "2026-01-05 14:40:00+00"),
    (3, "Alan Turing", "alan@example.com", "GB", "2026-01-09 11:05:00+00"),
    (4, "Katherine Johnson", "katherine@example.com", "US", "2026-02-01 08:30:00+00"),
    (5, "Hedy Lamarr", "hedy@example.com", "AT", "2026-02-14 19:55:00+00"),
]

ORDERS = [
    (101, 1, "completed", "120.00", "2026-01-04 10:00:00+00"),
    (102, 1, "completed", "35.50", "2026-01-20 16:20:00+00"),
    (103, 2, "shipped", "89.99", "2026-01-06 12:00:00+00"),
    (104, 3, "cancelled", "15.00", "2026-01-10 09:45:00+00"),
    (105, 3, "completed", "240.00", "2026-02-02 18:10:00+00"),
    (106, 4, "paid", "64.25", "2026-02-03 07:55:00+00"),
    (107, 4, "completed", "18.75", "2026-02-10 13:30:00+00"),
    (108, 2, "placed", "42.00", "2026-02-15 21:05:00+00"),
]
"""Customer 5 has no orders yet: marts must keep customers without orders."""


def seed(settings: WarehouseSettings) -> None:
    """Create the shop database, its tables and the fixed demo rows (idempotent)."""
    ensure_database(settings, SHOP_DATABASE)
    conn = connect(settings, SHOP_DATABASE)
    with conn, conn.cursor() as cursor:
        cursor.execute(SCHEMA_DDL)
        cursor.executemany(
            """
            insert into customers (customer_id, name, email, country, created_at, updated_at)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (customer_id) do nothing
            """,
            [(*row, row[-1]) for row in CUSTOMERS],
        )
        cursor.executemany(
            """
            insert into orders (order_id, customer_id, status, amount, ordered_at, updated_at)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (order_id) do nothing
            """,
            [(*row, row[-1]) for row in ORDERS],
        )
    conn.close()
