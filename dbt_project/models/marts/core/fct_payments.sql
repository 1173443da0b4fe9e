with

payments as (

    select * from {{ ref('stg_payments__payments') }}

),

refunds as (

    select * from {{ ref('stg_payments__refunds') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

refunds_summary as (

    select
        payment_id,
        count(*) as refund_count,
        sum(amount) as amount_refunded

    from refunds

    group by payment_id

),

final as (

    select
        payments.payment_id,
        payments.order_id,
        orders.customer_id,
        payments.payment_method,
        payments.payment_status,
        payments.currency_code,
        cast(payments.amount as numeric(14, 2)) as amount,
        cast(coalesce(refunds_summary.refund_count, 0) as bigint) as refund_count,
        cast(coalesce(refunds_summary.amount_refunded, 0) as numeric(14, 2)) as amount_refunded,
        cast(
            payments.amount - coalesce(refunds_summary.amount_refunded, 0) as numeric(14, 2)
        ) as net_amount,
        payments.created_at,
        payments.updated_at

    from payments

    left join refunds_summary
        on payments.payment_id = refunds_summary.payment_id

    left join orders
        on payments.order_id = orders.order_id

)

select * from final
