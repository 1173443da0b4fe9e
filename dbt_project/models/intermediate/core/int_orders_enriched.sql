-- One row per order with its items, payment and refunds summed up. Revenue is recognised for
-- orders that are paid and not cancelled or returned: placed orders are not paid yet, and a
-- returned order's money went back.
--
-- Incremental: a build re-reads the orders whose order, items, payment or refunds changed since
-- `lookback_days` (default 3) before the newest change here, and replaces them by order_id.
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['order_id'], 'unique': true},
            {'columns': ['last_changed_at']},
        ],
    )
}}

{%- set changed_since = lookback_start('last_changed_at') %}

with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

payments as (

    select * from {{ ref('int_payments_enriched') }}

),

{%- if is_incremental() %}

    changed_orders as (

        select orders.order_id
        from orders
        where orders.updated_at >= {{ changed_since }}

        union

        select order_items.order_id
        from order_items
        where order_items.created_at >= {{ changed_since }}

        union

        select payments.order_id
        from payments
        where greatest(payments.updated_at, payments.last_refunded_at) >= {{ changed_since }}

    ),

{%- endif %}

orders_read as (

    select * from orders

    {%- if is_incremental() %}
        where order_id in (select changed_orders.order_id from changed_orders)
    {%- endif %}

),

order_items_summary as (

    select
        order_items.order_id,
        count(*) as item_count,
        sum(order_items.quantity) as unit_count,
        sum(order_items.line_total) as order_total,
        max(order_items.created_at) as last_item_created_at

    from order_items

    {%- if is_incremental() %}
        where order_items.order_id in (select changed_orders.order_id from changed_orders)
    {%- endif %}

    group by order_items.order_id

),

joined as (

    select
        orders_read.order_id,
        orders_read.customer_id,
        payments.payment_id,
        orders_read.order_status,
        payments.payment_method,
        cast(coalesce(order_items_summary.item_count, 0) as bigint) as item_count,
        cast(coalesce(order_items_summary.unit_count, 0) as bigint) as unit_count,
        cast(coalesce(order_items_summary.order_total, 0) as numeric(14, 2)) as order_total,
        cast(coalesce(payments.amount, 0) as numeric(14, 2)) as amount_paid,
        cast(coalesce(payments.amount_refunded, 0) as numeric(14, 2)) as amount_refunded,
        cast(coalesce(payments.net_amount, 0) as numeric(14, 2)) as net_amount_paid,
        cast(
            case
                when orders_read.order_status in ('paid', 'shipped', 'completed')
                    then coalesce(order_items_summary.order_total, 0)
                else 0
            end as numeric(14, 2)
        ) as revenue,
        orders_read.order_status in ('paid', 'shipped', 'completed') as is_revenue_recognised,
        orders_read.ordered_at,
        {{ to_utc_date('orders_read.ordered_at') }} as ordered_date,
        greatest(
            orders_read.updated_at,
            order_items_summary.last_item_created_at,
            payments.updated_at,
            payments.last_refunded_at
        ) as last_changed_at

    from orders_read

    left join order_items_summary
        on orders_read.order_id = order_items_summary.order_id

    left join payments
        on orders_read.order_id = payments.order_id

)

select * from joined
