-- One row per customer per day with any activity: sessions started, events, orders placed and
-- their recognised revenue. Anonymous visitors have no customer and are left out.
--
-- Incremental by whole days (delete+insert on activity_date): a build replaces the days in
-- incremental_window (the last `lookback_days`, or exactly `start_date`..`end_date` when Dagster
-- backfills a partition), plus, outside an explicit window, the days of events loaded since the
-- newest load already counted here (events_load_id: an event delivered a week late changes its
-- day), the days of orders that changed since the last build (an order returned weeks later
-- changes its day's revenue) and the days with orders but no row here yet. Events are read by
-- time range on int_events_sessionised's index, never all of them.
{{
    config(
        materialized='incremental',
        unique_key='activity_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        tags=['daily_partitioned'],
    )
}}

with

-- Not materialised: read twice below, Postgres would otherwise copy every event once before
-- either read could use the index on occurred_at.
events as not materialized (

    select * from {{ ref('int_events_sessionised') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

rebuilt_days as (

    select {{ to_utc_date('events.occurred_at') }} as activity_date

    from events

    where
        events.customer_id is not null
        and (
            {{ incremental_window_on_timestamps('events.occurred_at') }}
            {%- if var('start_date', none) is none %}
                or {{ loaded_since_last_build('events._dlt_load_id', 'events_load_id') }}
            {%- endif %}
        )

    union

    select orders.ordered_date as activity_date

    from orders

    where
        (
            {{ incremental_window('orders.ordered_date') }}
            {%- if is_incremental() and var('start_date', none) is none %}
                or orders.last_changed_at >= {{ lookback_start('orders_changed_at') }}
            {%- endif %}
        )

    {%- if is_incremental() and var('start_date', none) is none %}

        union

        -- The days with orders but no row here yet, as an anti-join of its own: a `not in` or
        -- `not exists` beside the `or` above searched this table once per order (7 minutes at
        -- 1M orders).
        select orders.ordered_date as activity_date

        from orders

        where not exists (
            select built.activity_date from {{ this }} as built
            where built.activity_date = orders.ordered_date
        )
    {%- endif %}

),

events_daily as (

    select
        events.customer_id,
        {{ to_utc_date('events.occurred_at') }} as activity_date,
        count(*) as event_count,
        sum(case when events.is_session_start then 1 else 0 end) as session_count,
        sum(case when events.event_type = 'product_view' then 1 else 0 end) as product_view_count,
        sum(case when events.event_type = 'add_to_cart' then 1 else 0 end) as add_to_cart_count,
        max(events._dlt_load_id) as events_load_id

    from events

    -- A range per day, not a cast of every event to its day: the index on occurred_at answers it.
    inner join rebuilt_days
        on
            events.occurred_at >= {{ utc_day_start('rebuilt_days.activity_date') }}
            and events.occurred_at < {{ utc_day_start('rebuilt_days.activity_date + 1') }}

    where events.customer_id is not null

    group by events.customer_id, {{ to_utc_date('events.occurred_at') }}

),

orders_daily as (

    select
        orders.customer_id,
        orders.ordered_date as activity_date,
        count(*) as order_count,
        sum(orders.revenue) as revenue,
        max(orders.last_changed_at) as orders_changed_at

    from orders

    inner join rebuilt_days
        on orders.ordered_date = rebuilt_days.activity_date

    group by orders.customer_id, orders.ordered_date

),

final as (

    select
        coalesce(events_daily.activity_date, orders_daily.activity_date) as activity_date,
        coalesce(events_daily.customer_id, orders_daily.customer_id) as customer_id,
        cast(coalesce(events_daily.session_count, 0) as bigint) as session_count,
        cast(coalesce(events_daily.event_count, 0) as bigint) as event_count,
        cast(coalesce(events_daily.product_view_count, 0) as bigint) as product_view_count,
        cast(coalesce(events_daily.add_to_cart_count, 0) as bigint) as add_to_cart_count,
        cast(coalesce(orders_daily.order_count, 0) as bigint) as order_count,
        cast(coalesce(orders_daily.revenue, 0) as numeric(14, 2)) as revenue,
        orders_daily.orders_changed_at,
        cast(events_daily.events_load_id as text) as events_load_id

    from events_daily

    full outer join orders_daily
        on
            events_daily.customer_id = orders_daily.customer_id
            and events_daily.activity_date = orders_daily.activity_date

)

select * from final
