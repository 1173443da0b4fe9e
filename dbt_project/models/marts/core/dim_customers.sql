with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

country_regions as (

    select * from {{ ref('country_regions') }}

),

customer_orders as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

final as (

    select
        customers.customer_id,
        {{ pseudonymise('customers.email') }} as email_pseudonym,
        customers.country_code,
        country_regions.country_name,
        country_regions.region,
        customers.customer_segment,
        cast(coalesce(customer_orders.order_count, 0) as bigint) as order_count,
        cast(coalesce(customer_orders.paid_order_count, 0) as bigint) as paid_order_count,
        cast(coalesce(customer_orders.lifetime_value, 0) as numeric(14, 2)) as lifetime_value,
        customers.created_at,
        customer_orders.first_ordered_at,
        customer_orders.last_ordered_at

    from customers

    left join country_regions
        on customers.country_code = country_regions.country_code

    left join customer_orders
        on customers.customer_id = customer_orders.customer_id

)

select * from final
