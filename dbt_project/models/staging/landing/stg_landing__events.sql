-- Events as delivered, minus the copies: a file can deliver an event twice, and the first
-- delivery (earliest load, then file, then line) is the one kept.
--
-- A timestamp in neither known format, or naming a moment that does not exist (30 February),
-- is never cast (Postgres would raise and stop the build): the event keeps a null occurred_at
-- and says why in occurred_at_problem. It is set aside in int_events_rejected, a warning counts
-- it, and everything downstream builds without it.
--
-- Incremental, unlike the other staging models: events are the one source that grows by
-- millions a day and is only ever appended to. A build reads the loads dlt completed since the
-- newest one already here, each whole (a load still committing its files waits for the next
-- build); an event already here is never added twice (a unique index says so too). `dbt build
-- --full-refresh` reads everything again and gives the same rows.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['_dlt_load_id']},
        ],
    )
}}

with

source as (

    select * from {{ source('landing', 'events') }}

    where
        {{ from_completed_dlt_loads(source('landing', 'events')) }}
        and {{ loaded_since_last_build() }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by event_id order by _dlt_load_id, _file_name, _line_number
        ) as delivery_number
    from source

    {%- if is_incremental() %}

        where not exists (
            select kept.event_id from {{ this }} as kept
            where kept.event_id = source.event_id
        )
    {%- endif %}

),

-- Materialised: the ISO text is read in a dozen places below, and Postgres would otherwise
-- repeat the regular expressions behind it at each (5 times slower on 300,000 events).
timestamps_read as materialized (

    select
        *,
        {{ event_timestamp_as_iso('occurred_at') }} as occurred_at_iso
    from deduplicated
    where delivery_number = 1

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
        case
            when occurred_at_iso is null then 'unknown timestamp format'
            when not {{ is_real_utc_timestamp('occurred_at_iso') }} then 'impossible date or time'
        end as occurred_at_problem,

        ---------- numerics
        properties__quantity as quantity,
        -- Raw keeps the JSON number as a float; money is exact decimals from here on.
        cast(properties__cart_value as numeric(14, 2)) as cart_value,

        ---------- booleans
        coalesce(
            event_type in ('page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'),
            false
        ) as is_known_event_type,

        ---------- timestamps
        case
            when {{ is_real_utc_timestamp('occurred_at_iso') }}
                then cast(occurred_at_iso as timestamptz)
        end as occurred_at,
        occurred_at as occurred_at_as_delivered,

        ---------- loader
        -- dlt's load id (a Unix time as text, ordered as text): what was read when.
        _dlt_load_id

    from timestamps_read

)

select * from renamed
