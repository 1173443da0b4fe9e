-- Events grouped into sessions by inactivity: a visitor's session ends after
-- `session_timeout_minutes` (default 30) without an event, whatever the tracker's session id says.
-- A session is named after its visitor and first event time (as UTC text), so the same event
-- gets the same session id however much history a build reads and whatever the session's time
-- zone.

with

events as (

    select * from {{ ref('stg_landing__events') }}

),

visitor_events as (

    select
        *,
        coalesce(
            'customer-' || customer_id::text, 'anonymous-' || session_id
        ) as visitor_id

    from events

    -- Events without a usable timestamp cannot be placed in a session: int_events_rejected.
    where occurred_at is not null

),

with_previous_event as (

    select
        *,
        lag(occurred_at) over (
            partition by visitor_id order by occurred_at, event_id
        ) as previous_occurred_at

    from visitor_events

),

session_starts_flagged as (

    select
        *,
        coalesce(
            occurred_at > {{ dbt.dateadd(
                'minute', var('session_timeout_minutes', 30), 'previous_occurred_at'
            ) }},
            true
        ) as is_session_start

    from with_previous_event

),

sessions_assigned as (

    select
        *,
        max(case when is_session_start then occurred_at end) over (
            partition by visitor_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_started_at

    from session_starts_flagged

),

final as (

    select

        ---------- ids
        event_id,
        md5(visitor_id || '|' || {{ to_utc_text('session_started_at') }}) as session_id,
        visitor_id,
        customer_id,
        session_id as tracker_session_id,
        product_id,
        order_id,

        ---------- strings
        event_type,

        ---------- numerics
        quantity,
        cart_value,

        ---------- booleans
        is_session_start,
        is_known_event_type,

        ---------- timestamps
        occurred_at,
        session_started_at

    from sessions_assigned

)

select * from final
