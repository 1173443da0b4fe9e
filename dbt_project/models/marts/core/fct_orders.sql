-- Incremental: each build re-reads the orders whose order, payment or refunds changed since
-- `lookback_days` (default 3) before the newest change already here, and replaces them by
-- order_id. Status changes arrive as changes; the lookback also catches rows loaded late.
-- delete+insert rather than merge: MERGE needs Postgres 15, and this must run on older servers.
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

    {% if is_incremental() %}
        where last_changed_at >= {{ lookback_start('last_changed_at') }}
    {% endif %}

),

final as (

    select
        order_id,
        customer_id,
        payment_id,
        order_status,
        payment_method,
        cast(item_count as bigint) as item_count,
        cast(unit_count as bigint) as unit_count,
        cast(order_total as numeric(14, 2)) as order_total,
        cast(amount_paid as numeric(14, 2)) as amount_paid,
        cast(amount_refunded as numeric(14, 2)) as amount_refunded,
        cast(net_amount_paid as numeric(14, 2)) as net_amount_paid,
        cast(revenue as numeric(14, 2)) as revenue,
        is_revenue_recognised,
        ordered_at,
        ordered_date,
        last_changed_at

    from orders

)

select * from final
