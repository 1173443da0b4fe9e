"""The demo shop's operational database: a ``shop`` database on the warehouse server.

Its schema is what an application would have: primary keys, foreign keys, check constraints and
the indexes its queries need. The payments service keeps its own tables in the ``payments``
schema of the same database, so payments always match orders. The simulator's bookkeeping lives
in the ``simulator`` schema, which no loader reads.

Two read-only users, as an application's DBA would give them: ``shop_reader`` reads the shop's
tables (the shop load connects as it, the Makefile's ``SOURCES__SHOP__CREDENTIALS``), and
``payments_service`` reads the payments tables (the demo payments API connects as it). Only the
simulator writes, as the database's owner.
"""

from __future__ import annotations

SCHEMA_DDL = """
create table if not exists customers (
    customer_id bigint primary key,
    name text not null,
    email text not null unique,
    country char(2) not null,
    segment text not null check (segment in ('consumer', 'small_business', 'enterprise')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index if not exists customers_updated_at_idx on customers (updated_at);

create table if not exists products (
    product_id bigint primary key,
    sku text not null unique,
    name text not null,
    category text not null,
    price numeric(10, 2) not null check (price > 0),
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index if not exists products_updated_at_idx on products (updated_at);

create table if not exists orders (
    order_id bigint primary key,
    customer_id bigint not null references customers (customer_id),
    status text not null check (
        status in ('placed', 'paid', 'shipped', 'completed', 'cancelled', 'returned')
    ),
    ordered_at timestamptz not null,
    updated_at timestamptz not null
);
create index if not exists orders_customer_id_idx on orders (customer_id);
create index if not exists orders_updated_at_idx on orders (updated_at);
create index if not exists orders_open_idx on orders (ordered_at)
    where status in ('placed', 'paid', 'shipped', 'completed');

create table if not exists order_items (
    order_item_id bigint primary key,
    order_id bigint not null references orders (order_id),
    product_id bigint not null references products (product_id),
    quantity integer not null check (quantity > 0),
    unit_price numeric(10, 2) not null check (unit_price > 0),
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index if not exists order_items_order_id_idx on order_items (order_id);
create index if not exists order_items_updated_at_idx on order_items (updated_at);

create schema if not exists payments;

create table if not exists payments.payments (
    payment_id bigint primary key,
    order_id bigint not null unique references public.orders (order_id),
    amount numeric(12, 2) not null check (amount >= 0),
    currency char(3) not null default 'EUR',
    method text not null check (method in ('card', 'paypal', 'bank_transfer', 'gift_card')),
    status text not null check (status in ('succeeded', 'refunded')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index if not exists payments_updated_at_idx on payments.payments (updated_at, payment_id);

create table if not exists payments.refunds (
    refund_id bigint primary key,
    payment_id bigint not null references payments.payments (payment_id),
    amount numeric(12, 2) not null check (amount > 0),
    reason text not null,
    created_at timestamptz not null
);
create index if not exists refunds_payment_id_idx on payments.refunds (payment_id);

create schema if not exists simulator;

create table if not exists simulator.state (
    singleton boolean primary key default true check (singleton),
    seed bigint not null,
    scale text not null,
    mess jsonb not null,
    start_date date not null,
    next_date date not null
);

create table if not exists simulator.late_events (
    position bigint primary key,
    line text not null
);
"""

SHOP_TABLES = ("customers", "products", "orders", "order_items")
PAYMENTS_TABLES = ("payments.payments", "payments.refunds")

READERS = {
    # user: (password, schema it reads)
    "shop_reader": ("shop-reader-local", "public"),
    "payments_service": ("payments-service-local", "payments"),
}
"""The demo's read-only users; local passwords, like the embedded server's own."""

READER_DDL = """
do $$ begin
    if not exists (select from pg_roles where rolname = %(user)s) then
        execute format('create role %%I', %(user)s);
    end if;
    execute format(
        'alter role %%I with login nosuperuser nocreatedb nocreaterole password %%L',
        %(user)s, %(password)s
    );
    execute format('grant connect on database %%I to %%I', current_database(), %(user)s);
    execute format('grant usage on schema %%I to %%I', %(schema)s, %(user)s);
    execute format('grant select on all tables in schema %%I to %%I', %(schema)s, %(user)s);
    execute format(
        'alter default privileges in schema %%I grant select on tables to %%I',
        %(schema)s, %(user)s
    );
end $$
"""
