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

    select * from {{ ref('stg_payments__payments') }}

),

refunds as (

    select * from {{ ref('stg_payments__refunds') }}

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

refunds_summary as (

    select
        payment_id,
        sum(amount) as amount_refunded,
        max(refunded_at) as last_refunded_at

    from refunds

    group by payment_id

),

payments_summary as (

    select
        payments.order_id,
        payments.payment_id,
        payments.payment_method,
        payments.amount as amount_paid,
        coalesce(refunds_summary.amount_refunded, 0) as amount_refunded,
        payments.updated_at as payment_updated_at,
        refunds_summary.last_refunded_at

    from payments

    left join refunds_summary
        on payments.payment_id = refunds_summary.payment_id

),

joined as (

    select
        orders.order_id,
        orders.customer_id,
        payments_summary.payment_id,
        orders.order_status,
        payments_summary.payment_method,
        cast(coalesce(order_items_summary.item_count, 0) as bigint) as item_count,
        cast(coalesce(order_items_summary.unit_count, 0) as bigint) as unit_count,
        cast(coalesce(order_items_summary.order_total, 0) as numeric(14, 2)) as order_total,
        cast(coalesce(payments_summary.amount_paid, 0) as numeric(14, 2)) as amount_paid,
        cast(
            coalesce(payments_summary.amount_refunded, 0) as numeric(14, 2)
        ) as amount_refunded,
        cast(
            coalesce(payments_summary.amount_paid, 0)
            - coalesce(payments_summary.amount_refunded, 0) as numeric(14, 2)
        ) as net_amount_paid,
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
            payments_summary.payment_updated_at,
            payments_summary.last_refunded_at
        ) as last_changed_at

    from orders

    left join order_items_summary
        on orders.order_id = order_items_summary.order_id

    left join payments_summary
        on orders.order_id = payments_summary.order_id

)

select * from joined
