-- One row per order with its items, payment and refunds summed up. Revenue is recognised for
-- orders that are paid and not cancelled or returned: placed orders are not paid yet, and a
-- returned order's money went back.

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

order_items_summary as (

    select
        order_id,
        count(*) as item_count,
        sum(quantity) as unit_count,
        sum(line_total) as order_total

    from order_items

    group by order_id

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        payments.payment_id,
        orders.order_status,
        payments.payment_method,
        cast(coalesce(order_items_summary.item_count, 0) as bigint) as item_count,
        cast(coalesce(order_items_summary.unit_count, 0) as bigint) as unit_count,
        cast(coalesce(order_items_summary.order_total, 0) as numeric(14, 2)) as order_total,
        cast(coalesce(payments.amount, 0) as numeric(14, 2)) as amount_paid,
        cast(coalesce(payments.amount_refunded, 0) as numeric(14, 2)) as amount_refunded,
        cast(coalesce(payments.net_amount, 0) as numeric(14, 2)) as net_amount_paid,
        cast(
            case
                when orders.order_status in ('paid', 'shipped', 'completed')
                    then coalesce(order_items_summary.order_total, 0)
                else 0
            end as numeric(14, 2)
        ) as revenue,
        orders.order_status in ('paid', 'shipped', 'completed') as is_revenue_recognised,
        orders.ordered_at,
        {{ to_utc_date('orders.ordered_at') }} as ordered_date,
        greatest(
            orders.updated_at,
            payments.updated_at,
            payments.last_refunded_at
        ) as last_changed_at

    from orders

    left join order_items_summary
        on orders.order_id = order_items_summary.order_id

    left join payments
        on orders.order_id = payments.order_id

)

select * from joined
