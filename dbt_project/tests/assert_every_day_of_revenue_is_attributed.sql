-- Every day's recognised revenue is in the daily revenue report, in full: summed over the
-- day's rows, attributed revenue is the day's revenue, to rounding (each row rounds to the
-- cent). A day missing from the report, or attributed only in part, is a failure.
-- It reads two models; in Dagster it is a check on the report, the one it judges.
{{ config(meta={'dagster': {'ref': {'name': 'rpt_daily_revenue_by_channel'}}}) }}

with

orders as (

    select * from {{ ref('fct_orders') }}

),

report as (

    select * from {{ ref('rpt_daily_revenue_by_channel') }}

),

revenue_by_day as (

    select
        ordered_date,
        sum(revenue) as revenue

    from orders

    group by ordered_date

),

attributed_by_day as (

    select
        report_date,
        sum(attributed_revenue) as attributed_revenue,
        count(*) as row_count

    from report

    group by report_date

)

select
    revenue_by_day.ordered_date,
    revenue_by_day.revenue,
    attributed_by_day.attributed_revenue

from revenue_by_day

left join attributed_by_day
    on revenue_by_day.ordered_date = attributed_by_day.report_date

where
    revenue_by_day.revenue <> 0
    and (
        attributed_by_day.report_date is null
        or abs(revenue_by_day.revenue - attributed_by_day.attributed_revenue)
        > 0.01 * attributed_by_day.row_count
    )
