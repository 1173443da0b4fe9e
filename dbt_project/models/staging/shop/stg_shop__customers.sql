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

        ---------- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
