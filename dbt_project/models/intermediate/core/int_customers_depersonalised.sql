-- Customers without their personal data (name, email): what the snapshot keeps the history of.
-- A snapshot never forgets, so personal data must never reach it: an erased customer's name
-- and email leave raw and staging with the shop's deletion, and exist nowhere else.

{{ config(materialized='view') }}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

depersonalised as (

    select
        customers.customer_id,
        customers.country_code,
        customers.customer_segment,
        customers.created_at,
        customers.updated_at

    from customers

)

select * from depersonalised
