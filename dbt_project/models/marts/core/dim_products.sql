with

products as (

    select * from {{ ref('stg_shop__products') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

product_sales_summary as (

    select
        order_items.product_id,
        sum(order_items.quantity) as units_sold,
        sum(order_items.line_total) as revenue

    from order_items

    inner join orders
        on order_items.order_id = orders.order_id

    where orders.is_revenue_recognised

    group by order_items.product_id

),

final as (

    select
        products.product_id,
        products.sku,
        products.product_name,
        products.product_category,
        products.price,
        cast(coalesce(product_sales_summary.units_sold, 0) as bigint) as units_sold,
        cast(coalesce(product_sales_summary.revenue, 0) as numeric(14, 2)) as revenue,
        products.created_at,
        products.updated_at

    from products

    left join product_sales_summary
        on products.product_id = product_sales_summary.product_id

)

select * from final
