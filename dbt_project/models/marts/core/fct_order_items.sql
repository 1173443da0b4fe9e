with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

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
        orders.ordered_date

    from order_items

    inner join orders
        on order_items.order_id = orders.order_id

)

select * from final
