-- Events set aside, with the reason: today, a timestamp in an unknown format or naming a moment
-- that does not exist. No model downstream of staging counts them; the warning of
-- stg_landing__events' occurred_at test says how many there are, and this table which ones.

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
        occurred_at_as_delivered

    from events

    where occurred_at_problem is not null

)

select * from rejected
