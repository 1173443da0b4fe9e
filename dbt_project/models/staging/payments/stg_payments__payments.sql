with

source as (

    select * from {{ source('payments', 'payments') }}

),

renamed as (

    select

        ---------- ids
        payment_id,
        order_id,

        ---------- strings
        method as payment_method,
        status as payment_status,
        upper(currency) as currency_code,

        ---------- numerics
        {{ cents_to_currency('amount_cents') }} as amount,

        ---------- timestamps
        created_at,
        updated_at

    from source

)

select * from renamed
