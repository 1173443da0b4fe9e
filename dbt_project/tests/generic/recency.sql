{#-
    The newest `field` is no older than `interval` `datepart`s before now (per group of
    `group_by_columns`, if given); `ignore_time_component` compares dates. Named and shaped like
    dbt_utils' test. To compare with another model's newest row instead of now, use
    `keeps_up_with`.
-#}
{% test recency(model, field, datepart, interval, ignore_time_component=false, group_by_columns=[]) %}

    {%- set now = dbt.current_timestamp() -%}
    {%- if ignore_time_component -%}
        {%- set now = 'cast(' ~ now ~ ' as date)' -%}
        {%- set field = 'cast(' ~ field ~ ' as date)' -%}
    {%- endif -%}
    {%- set threshold = dbt.dateadd(datepart, -1 * interval, now) -%}
    {%- set groups = group_by_columns | join(', ') %}

    with

    newest as (

        select
            {% if groups %}{{ groups }},{% endif %}
            max({{ field }}) as most_recent
        from {{ model }}
        {% if groups %}group by {{ groups }}{% endif %}

    )

    select
        *,
        {{ threshold }} as threshold
    from newest
    where most_recent is null or most_recent < {{ threshold }}

{% endtest %}
