-- Events grouped into sessions by inactivity: a visitor's session ends after
-- `session_timeout_minutes` (default 30) without an event, whatever the tracker's session id says.
-- A session is named after its visitor and first event time (as UTC text), so the same event
-- gets the same session id however much history a build reads and whatever the session's time
-- zone.
--
-- Incremental: a build sessionises the events staged since its last build and, for each
-- visitor among them, the events already here from the start of the session their earliest
-- new event may join (the session of the visitor's last event before it). An event arriving
-- days late may merge or split that visitor's later sessions; those rows are rewritten here
-- (delete+insert on event_id) and the events before that session keep theirs, which no
-- arrival can change. So any lateness gives the rows a full rebuild gives, with no window to
-- tune.
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['visitor_id', 'occurred_at']},
            {'columns': ['occurred_at']},
            {'columns': ['_dlt_load_id']},
        ],
    )
}}

with

staged_events as (

    select
        event_id,
        coalesce(
            'customer-' || customer_id::text, 'anonymous-' || session_id
        ) as visitor_id,
        customer_id,
        session_id as tracker_session_id,
        product_id,
        order_id,
        event_type,
        quantity,
        cart_value,
        is_known_event_type,
        occurred_at,
        _dlt_load_id

    from {{ ref('stg_landing__events') }}

    where
        -- Events without a usable timestamp cannot be placed in a session: int_events_rejected.
        occurred_at is not null
        and {{ loaded_since_last_build() }}

),

{%- if is_incremental_with('_dlt_load_id') %}

    -- Materialised: the lookup runs once per visitor, not once per event of theirs read below.
    visitors_resumed as materialized (

        select
            new_events.visitor_id,
            (
                select built.session_started_at
                from {{ this }} as built
                where
                    built.visitor_id = new_events.visitor_id
                    and built.occurred_at < new_events.first_new_occurred_at
                order by built.occurred_at desc
                limit 1
            ) as resumed_session_started_at

        from (
            select
                staged_events.visitor_id,
                min(staged_events.occurred_at) as first_new_occurred_at
            from staged_events
            group by staged_events.visitor_id
        ) as new_events

    ),

    events_resumed as (

        select
            built.event_id,
            built.visitor_id,
            built.customer_id,
            built.tracker_session_id,
            built.product_id,
            built.order_id,
            built.event_type,
            built.quantity,
            built.cart_value,
            built.is_known_event_type,
            built.occurred_at,
            built._dlt_load_id

        from {{ this }} as built

        inner join visitors_resumed
            on built.visitor_id = visitors_resumed.visitor_id

        where
            built.occurred_at >= coalesce(
                visitors_resumed.resumed_session_started_at, '-infinity'
            )
            and not exists (
                select staged_events.event_id
                from staged_events
                where staged_events.event_id = built.event_id
            )

    ),

    events as (

        select * from staged_events
        union all
        select * from events_resumed

    ),

{%- else %}

    events as (

        select * from staged_events

    ),

{%- endif %}

with_previous_event as (

    select
        *,
        lag(occurred_at) over (
            partition by visitor_id order by occurred_at, event_id
        ) as previous_occurred_at

    from events

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
        tracker_session_id,
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
        session_started_at,

        ---------- loader
        _dlt_load_id

    from sessions_assigned

)

select * from final
