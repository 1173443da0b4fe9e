{#-
    The newest `field` is no more than `interval` `datepart`s behind the newest `compare_field`
    of `compare_model`: one feed going stale while another keeps flowing ("orders are no more
    than a day behind events"). Our own test, not dbt_utils' (whose `recency` compares with now
    only), so it has a name of its own and every argument is required.
-#}
{% test keeps_up_with(model, field, compare_model, compare_field, datepart, interval) %}

    with

    newest as (

        select
            (select max({{ field }}) from {{ model }}) as newest_value,
            (select max({{ compare_field }}) from {{ compare_model }}) as newest_compare_value

    )

    select *
    from newest
    where
        newest_value is null
        or newest_value < {{ dbt.dateadd(datepart, -1 * interval, 'newest_compare_value') }}

{% endtest %}
