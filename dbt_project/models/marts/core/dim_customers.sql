with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

customer_orders_summary as (

    select
        customer_id,
        count(*) as order_count,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(
            case when order_status != 'cancelled' then order_total else 0 end
        ) as lifetime_value

    from orders

    group by customer_id

),

joined as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.country_code,
        coalesce(customer_orders_summary.order_count, 0) as order_count,
        customer_orders_summary.first_ordered_at,
        customer_orders_summary.last_ordered_at,
        coalesce(customer_orders_summary.lifetime_value, 0) as lifetime_value

    from customers

    left join customer_orders_summary
        on customers.customer_id = customer_orders_summary.customer_id

)

select * from joined
