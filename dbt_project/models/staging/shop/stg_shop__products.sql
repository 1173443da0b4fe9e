with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select

        ----------  ids
        product_id,

        ---------- strings
        sku,
        name as product_name,
        category as product_category,

        ---------- numerics
        price::numeric(10, 2) as price,

        ---------- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
