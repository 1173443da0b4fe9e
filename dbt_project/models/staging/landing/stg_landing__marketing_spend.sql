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

        ---------- numerics
        spend,
        impressions,
        clicks,

        ---------- dates
        date as spend_date

    from source

)

select * from renamed
