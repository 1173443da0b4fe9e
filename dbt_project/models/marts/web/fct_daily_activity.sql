-- One row per customer per day with any activity: sessions started, events, orders placed and
-- their recognised revenue. Anonymous visitors have no customer and are left out.
--
-- Incremental by whole days (delete+insert on activity_date): a build replaces the days in
-- incremental_window (the last `lookback_days`, or exactly `start_date`..`end_date` when Dagster
-- backfills a partition), plus, outside an explicit window, the days of orders that changed
-- since the last build (an order returned weeks later changes its day's revenue) and the days
-- with activity but no row here yet (those a build with `dev_days` left out).
--
-- With `dev_days`, events are cut to the last days: such a build writes only the days whose
-- events it read whole, and of those only the last `lookback_days` + 1, which the next build
-- without `dev_days` rebuilds anyway. No day is ever left wrong for a --full-refresh to mend.
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

events as (

    select * from {{ ref('int_events_sessionised') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

active_days as (

    select {{ to_utc_date('occurred_at') }} as activity_date

    from events

    where customer_id is not null

    union

    select ordered_date as activity_date

    from orders

),

rebuilt_days as (

    select active_days.activity_date

    from active_days

    where
        (
            {{ incremental_window('active_days.activity_date') }}
            {%- if is_incremental() and var('start_date', none) is none %}
                or active_days.activity_date not in (
                    select built.activity_date from {{ this }} as built
                )
                or active_days.activity_date in (
                    select changed_orders.ordered_date
                    from orders as changed_orders
                    where
                        changed_orders.last_changed_at
                        >= {{ lookback_start('orders_changed_at') }}
                )
            {%- endif %}
        )
        {%- if target.name == 'dev' and var('dev_days', none) is not none %}
            and active_days.activity_date >= (
                select min({{ to_utc_date('occurred_at') }}) as first_read_day from events
            )
            and {{ dbt.dateadd(
                'day', var('lookback_days', 3), 'active_days.activity_date'
            ) }} >= (
                select max(newest.activity_date) as newest_day from active_days as newest
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
        sum(case when events.event_type = 'add_to_cart' then 1 else 0 end) as add_to_cart_count

    from events

    inner join rebuilt_days
        on {{ to_utc_date('events.occurred_at') }} = rebuilt_days.activity_date

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
        orders_daily.orders_changed_at

    from events_daily

    full outer join orders_daily
        on
            events_daily.customer_id = orders_daily.customer_id
            and events_daily.activity_date = orders_daily.activity_date

)

select * from final
