-- One row per payment with its refunds summed up: the one place refunds are summarised, for
-- the orders they pay (int_orders_enriched) and the payments mart alike.

with

payments as (

    select * from {{ ref('stg_payments__payments') }}

),

refunds as (

    select * from {{ ref('stg_payments__refunds') }}

),

refunds_summary as (

    select
        payment_id,
        count(*) as refund_count,
        sum(amount) as amount_refunded,
        max(refunded_at) as last_refunded_at

    from refunds

    group by payment_id

),

joined as (

    select
        payments.payment_id,
        payments.order_id,
        payments.payment_method,
        payments.payment_status,
        payments.currency_code,
        cast(payments.amount as numeric(14, 2)) as amount,
        cast(coalesce(refunds_summary.refund_count, 0) as bigint) as refund_count,
        cast(
            coalesce(refunds_summary.amount_refunded, 0) as numeric(14, 2)
        ) as amount_refunded,
        cast(
            payments.amount - coalesce(refunds_summary.amount_refunded, 0) as numeric(14, 2)
        ) as net_amount,
        payments.created_at,
        payments.updated_at,
        refunds_summary.last_refunded_at

    from payments

    left join refunds_summary
        on payments.payment_id = refunds_summary.payment_id

)

select * from joined
