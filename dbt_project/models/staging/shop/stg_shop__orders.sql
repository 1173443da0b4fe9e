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

        ---------- timestamps
        ordered_at,
        updated_at

    from source

)

select * from renamed
