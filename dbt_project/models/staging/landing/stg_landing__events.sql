-- Events as delivered, minus the copies: a file can deliver an event twice, and the first
-- delivery (earliest file, then line) is the one kept.

with

source as (

    select * from {{ source('landing', 'events') }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by event_id order by _file_name, _line_number
        ) as delivery_number
    from source

),

renamed as (

    select

        ---------- ids
        event_id,
        session_id,
        user_id as customer_id,
        properties__product_id as product_id,
        properties__order_id as order_id,

        ---------- strings
        event_type,
        properties__path as page_path,
        _file_name as source_file_name,

        ---------- numerics
        properties__quantity as quantity,
        properties__cart_value as cart_value,

        ---------- booleans
        coalesce(
            event_type in ('page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'),
            false
        ) as is_known_event_type,

        ---------- timestamps
        {{ parse_event_timestamp('occurred_at') }} as occurred_at,
        occurred_at as occurred_at_as_delivered

    from deduplicated
    where delivery_number = 1

)

select * from renamed {{ limit_rows_in_dev('occurred_at', 'renamed') }}
