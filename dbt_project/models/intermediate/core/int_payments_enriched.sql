-- One row per payment with its refunds summed up: the one place refunds are summarised, for
-- the orders they pay (int_orders_enriched) and the payments mart alike.
--
-- Incremental: a build re-reads the payments updated or refunded since `lookback_days` (default
-- 3) before the newest change here, and replaces them by payment_id (as fct_orders does).
{{
    config(
        materialized='incremental',
        unique_key='payment_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['payment_id'], 'unique': true},
            {'columns': ['order_id']},
        ],
    )
}}

{%- set changed_since = lookback_start('greatest(updated_at, last_refunded_at)') %}

with

payments as (

    select * from {{ ref('stg_payments__payments') }}

),

refunds as (

    select * from {{ ref('stg_payments__refunds') }}

),

{%- if is_incremental() %}

    changed_payments as (

        select payments.payment_id
        from payments
        where payments.updated_at >= {{ changed_since }}

        union

        select refunds.payment_id
        from refunds
        where refunds.refunded_at >= {{ changed_since }}

    ),

{%- endif %}

payments_read as (

    select * from payments

    {%- if is_incremental() %}
        where payment_id in (select changed_payments.payment_id from changed_payments)
    {%- endif %}

),

refunds_summary as (

    select
        refunds.payment_id,
        count(*) as refund_count,
        sum(refunds.amount) as amount_refunded,
        max(refunds.refunded_at) as last_refunded_at

    from refunds

    {%- if is_incremental() %}
        where refunds.payment_id in (select changed_payments.payment_id from changed_payments)
    {%- endif %}

    group by refunds.payment_id

),

joined as (

    select
        payments_read.payment_id,
        payments_read.order_id,
        payments_read.payment_method,
        payments_read.payment_status,
        payments_read.currency_code,
        cast(payments_read.amount as numeric(14, 2)) as amount,
        cast(coalesce(refunds_summary.refund_count, 0) as bigint) as refund_count,
        cast(
            coalesce(refunds_summary.amount_refunded, 0) as numeric(14, 2)
        ) as amount_refunded,
        cast(
            payments_read.amount - coalesce(refunds_summary.amount_refunded, 0)
            as numeric(14, 2)
        ) as net_amount,
        payments_read.created_at,
        payments_read.updated_at,
        refunds_summary.last_refunded_at

    from payments_read

    left join refunds_summary
        on payments_read.payment_id = refunds_summary.payment_id

)

select * from joined
