with

source as (

    select * from {{ source_or_empty('payments', 'refunds') }}

),

renamed as (

    select

        ---------- ids
        refund_id,
        payment_id,

        ---------- strings
        reason as refund_reason,

        ---------- numerics
        {{ cents_to_currency('amount_cents') }} as amount,

        ---------- timestamps
        created_at as refunded_at

    from source

)

select * from renamed
