with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select

        ----------  ids
        customer_id,

        ---------- strings
        name as customer_name,
        lower(email) as email,
        upper(country) as country_code,
        segment as customer_segment,

        ---------- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
