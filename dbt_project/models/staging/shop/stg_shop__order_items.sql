with

source as (

    select * from {{ source('shop', 'order_items') }}

),

renamed as (

    select

        ----------  ids
        order_item_id,
        order_id,
        product_id,

        ---------- numerics
        quantity,
        unit_price::numeric(10, 2) as unit_price,
        (quantity * unit_price)::numeric(12, 2) as line_total,

        ---------- timestamps
        created_at

    from source

)

select * from renamed
