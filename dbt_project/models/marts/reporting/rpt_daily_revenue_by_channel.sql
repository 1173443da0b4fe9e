-- Daily marketing spend against revenue, by channel. Orders carry no channel, so revenue is
-- attributed by click share: a channel that drew 40% of a day's ad clicks is credited with 40%
-- of that day's recognised revenue. ROAS is that attributed revenue over the channel's spend.
-- Every day's revenue is reported in full: a day without ad clicks has it under `unattributed`.

with

marketing_spend as (

    select * from {{ ref('stg_landing__marketing_spend') }}

),

channel_groups as (

    select * from {{ ref('channel_groups') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

spend_by_channel as (

    select
        spend_date,
        channel,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks

    from marketing_spend

    group by spend_date, channel

),

daily_revenue as (

    select
        ordered_date,
        sum(revenue) as revenue,
        count(*) as order_count

    from orders

    group by ordered_date

),

click_shares as (

    select
        *,
        clicks / cast(nullif(sum(clicks) over (partition by spend_date), 0) as numeric)
            as click_share

    from spend_by_channel

),

channel_rows as (

    select
        click_shares.spend_date as report_date,
        click_shares.channel,
        coalesce(channel_groups.channel_group, 'unmapped') as channel_group,
        cast(click_shares.spend as numeric(14, 2)) as spend,
        cast(click_shares.impressions as bigint) as impressions,
        cast(click_shares.clicks as bigint) as clicks,
        cast(click_shares.click_share as numeric(7, 6)) as click_share,
        cast(coalesce(daily_revenue.revenue, 0) as numeric(14, 2)) as day_revenue,
        cast(
            coalesce(daily_revenue.revenue, 0) * coalesce(click_shares.click_share, 0)
            as numeric(14, 2)
        ) as attributed_revenue,
        cast(
            coalesce(daily_revenue.revenue, 0) * click_shares.click_share
            / nullif(click_shares.spend, 0)
            as numeric(12, 4)
        ) as roas

    from click_shares

    left join channel_groups
        on click_shares.channel = channel_groups.channel

    left join daily_revenue
        on click_shares.spend_date = daily_revenue.ordered_date

),

-- Revenue on a day without ad clicks (no spend rows, or none clicked) cannot be shared out by
-- clicks: it is reported under the channel `unattributed`, so no day of revenue drops out.
unattributed_rows as (

    select
        daily_revenue.ordered_date as report_date,
        'unattributed' as channel,
        'unattributed' as channel_group,
        cast(0 as numeric(14, 2)) as spend,
        cast(0 as bigint) as impressions,
        cast(0 as bigint) as clicks,
        cast(null as numeric(7, 6)) as click_share,
        cast(daily_revenue.revenue as numeric(14, 2)) as day_revenue,
        cast(daily_revenue.revenue as numeric(14, 2)) as attributed_revenue,
        cast(null as numeric(12, 4)) as roas

    from daily_revenue

    where
        daily_revenue.revenue <> 0
        and daily_revenue.ordered_date not in (
            select clicked.spend_date
            from click_shares as clicked
            where clicked.click_share is not null
        )

),

final as (

    select * from channel_rows

    union all

    select * from unattributed_rows

)

select * from final
