-- One row per customer who has ordered: counts, first and last order, and lifetime value
-- (recognised revenue, see int_orders_enriched).

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

summarised as (

    select
        customer_id,
        count(*) as order_count,
        sum(case when is_revenue_recognised then 1 else 0 end) as paid_order_count,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at,
        sum(revenue) as lifetime_value

    from orders

    group by customer_id

)

select * from summarised
