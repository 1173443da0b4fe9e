-- Money in must match what was sold: for every order, payments minus refunds equal the
-- revenue recognised for it (the order total when paid, shipped or completed, else 0).
-- A few mismatches are an order paid between the shop's and the payments API's loads, which
-- the next load settles: they warn. Many mean a broken feed or a wrong rule: they block.
{{ config(severity='error', warn_if='>0', error_if='>10') }}

select
    order_id,
    order_status,
    order_total,
    revenue,
    amount_paid,
    amount_refunded,
    net_amount_paid

from {{ ref('int_orders_enriched') }}

where net_amount_paid <> revenue
