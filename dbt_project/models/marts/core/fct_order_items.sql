-- Incremental: a build re-reads the lines of the orders that changed (order, items, payment or
-- refunds) since `lookback_days` (default 3) before the newest change here, and replaces each
-- such order's lines (delete+insert on order_id), as fct_orders replaces its orders.
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['order_id']}],
    )
}}

with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

    {% if is_incremental() %}
        where last_changed_at >= {{ lookback_start('last_changed_at') }}
    {% endif %}

),

final as (

    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,
        orders.customer_id,
        orders.order_status,
        order_items.quantity,
        order_items.unit_price,
        order_items.line_total,
        orders.is_revenue_recognised,
        orders.ordered_at,
        orders.ordered_date,
        orders.last_changed_at

    from order_items

    inner join orders
        on order_items.order_id = orders.order_id

)

select * from final
