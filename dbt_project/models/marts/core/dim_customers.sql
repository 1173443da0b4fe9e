with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

order_totals as (

    select
        order_id,
        sum(line_total) as order_total

    from order_items

    group by order_id

),

customer_orders_summary as (

    select
        orders.customer_id,
        count(*) as order_count,
        min(orders.ordered_at) as first_ordered_at,
        max(orders.ordered_at) as last_ordered_at,
        sum(
            case
                when orders.order_status in ('cancelled', 'returned') then 0
                else order_totals.order_total
            end
        ) as lifetime_value

    from orders

    left join order_totals
        on orders.order_id = order_totals.order_id

    group by orders.customer_id

),

joined as (

    select
        customers.customer_id,
        customers.customer_name,
        customers.country_code,
        customers.customer_segment,
        coalesce(customer_orders_summary.order_count, 0) as order_count,
        customer_orders_summary.first_ordered_at,
        customer_orders_summary.last_ordered_at,
        coalesce(customer_orders_summary.lifetime_value, 0) as lifetime_value

    from customers

    left join customer_orders_summary
        on customers.customer_id = customer_orders_summary.customer_id

)

select * from joined
