with

payments as (

    select * from {{ ref('int_payments_enriched') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

final as (

    select
        payments.payment_id,
        payments.order_id,
        orders.customer_id,
        payments.payment_method,
        payments.payment_status,
        payments.currency_code,
        payments.amount,
        payments.refund_count,
        payments.amount_refunded,
        payments.net_amount,
        payments.created_at,
        payments.updated_at

    from payments

    left join orders
        on payments.order_id = orders.order_id

)

select * from final
