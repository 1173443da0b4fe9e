{#-
    The newest `field` is no older than `interval` `datepart`s before a reference time: now by
    default, or the newest `compare_field` of `compare_model` (e.g. "orders are as current as
    events": one source going stale while another keeps flowing).
-#}
{% test recency(model, field, datepart, interval, compare_model=none, compare_field=none) %}

    {%- if compare_model is not none -%}
        {%- set reference = '(select max(' ~ compare_field ~ ') from ' ~ compare_model ~ ')' -%}
    {%- else -%}
        {%- set reference = dbt.current_timestamp() -%}
    {%- endif %}

    with

    newest as (

        select max({{ field }}) as newest_value
        from {{ model }}

    )

    select *
    from newest
    where
        newest_value is null
        or newest_value < {{ dbt.dateadd(datepart, -1 * interval, reference) }}

{% endtest %}
