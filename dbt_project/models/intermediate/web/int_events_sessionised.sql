-- Events grouped into sessions by inactivity: a visitor's session ends after
-- `session_timeout_minutes` (default 30) without an event, whatever the tracker's session id says.
-- A session is named after its visitor and first event time (as UTC text), so the same event
-- gets the same session id however much history a build reads and whatever the session's time
-- zone.
--
-- Incremental: a build recomputes only the events from the lookback start (`lookback_days`
-- before the newest event already here), and for a visitor whose session was still open then,
-- from that session's start, so a session that spans the boundary is recomputed whole. Events
-- arriving later than the lookback are left to a --full-refresh, as in fct_daily_activity.

{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['occurred_at']}, {'columns': ['event_id']}],
    )
}}

{%- set timeout_minutes = var('session_timeout_minutes', 30) %}

with

events as (

    select * from {{ ref('stg_landing__events') }}

),

{% if is_incremental() %}

    recompute_boundary as (

        select {{ lookback_start('occurred_at') }} as recompute_from

    ),

    -- The sessions that may still have been open at the boundary: their visitor had an event
    -- within the timeout before it. Recomputed from their start.
    open_sessions as (

        select
            sessionised.visitor_id,
            max(sessionised.session_started_at) as recompute_from

        from {{ this }} as sessionised
        cross join recompute_boundary

        where
            sessionised.occurred_at >= {{ dbt.dateadd(
                'minute', '-' ~ timeout_minutes, 'recompute_boundary.recompute_from'
            ) }}
            and sessionised.occurred_at < recompute_boundary.recompute_from

        group by sessionised.visitor_id

    ),

{% endif %}

all_visitor_events as (

    select
        *,
        coalesce(
            'customer-' || customer_id::text, 'anonymous-' || session_id
        ) as visitor_id

    from events

    -- Events without a usable timestamp cannot be placed in a session: int_events_rejected.
    where occurred_at is not null

),

visitor_events as (

    select all_visitor_events.*

    from all_visitor_events

    {% if is_incremental() %}
        cross join recompute_boundary
        left join open_sessions
            on all_visitor_events.visitor_id = open_sessions.visitor_id

        where
            all_visitor_events.occurred_at >= coalesce(
                open_sessions.recompute_from, recompute_boundary.recompute_from
            )
    {% endif %}

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
                'minute', timeout_minutes, 'previous_occurred_at'
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
