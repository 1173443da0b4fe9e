with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select

        ----------  ids
        order_id,
        customer_id,

        ---------- strings
        status as order_status,

        ---------- numerics
        amount::numeric(12, 2) as order_total,

        ---------- timestamps
        ordered_at,
        updated_at

    from source

)

select * from renamed
