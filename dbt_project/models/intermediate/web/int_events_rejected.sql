-- Events set aside, with the reason: today, a timestamp in an unknown format or naming a moment
-- that does not exist. No model downstream of staging counts them; the warning of
-- stg_landing__events' occurred_at test says how many there are, and this table which ones.
--
-- Incremental: a build reads the events staged since its last build (an event is staged once
-- and never changes, so appending is enough; the unique index refuses an event twice).
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

events as (

    select * from {{ ref('stg_landing__events') }}

),

rejected as (

    select
        event_id,
        customer_id,
        event_type,
        source_file_name,
        occurred_at_problem as rejection_reason,
        occurred_at_as_delivered,
        _dlt_load_id

    from events

    where
        occurred_at_problem is not null
        and {{ loaded_since_last_build() }}
        {%- if is_incremental() %}
            and not exists (
                select kept.event_id from {{ this }} as kept
                where kept.event_id = events.event_id
            )
        {%- endif %}

)

select * from rejected
