-- Marketing spend by day, channel and campaign. Money must be readable and in EUR before
-- anything sums it: a spend dlt could not read as a number (kept in raw's spend__v_text, with
-- spend null) or in another currency fails this model's tests, which stops the reports built on
-- it until a corrected row arrives (raw merges on date, channel and campaign; README, "Bad
-- values"). The same rule holds for payments.

with

source as (

    select * from {{ source('landing', 'marketing_spend') }}

),

renamed as (

    select

        ---------- ids
        campaign as campaign_id,

        ---------- strings
        lower(channel) as channel,
        -- Files name no currency until the ad platforms add the column: the account's, EUR.
        upper(coalesce(
            {{ column_or_null(source('landing', 'marketing_spend'), 'currency', 'text') }},
            'EUR'
        )) as currency_code,

        ---------- numerics
        cast(spend as numeric(14, 2)) as spend,
        impressions,
        clicks,

        ---------- dates
        date as spend_date

    from source

)

select * from renamed
