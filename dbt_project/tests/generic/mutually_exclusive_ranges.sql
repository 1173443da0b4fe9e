{#-
    The ranges [lower_bound_column, upper_bound_column) of each `partition_by` group never
    overlap, each range ends after it starts (or at its start, with zero_length_range_allowed),
    and `gaps` between consecutive ranges are 'allowed', 'not_allowed' or 'required'. Named and
    shaped like dbt_utils' test; bounds may be expressions, e.g. an open end coalesced to a far
    future date, as a snapshot's current row has.
-#}
{% test mutually_exclusive_ranges(model, lower_bound_column, upper_bound_column, partition_by=none, gaps='allowed', zero_length_range_allowed=false) %}

    {%- set next_start_operator = {'allowed': '<=', 'not_allowed': '=', 'required': '<'}.get(gaps) -%}
    {%- if next_start_operator is none -%}
        {{ exceptions.raise_compiler_error(
            "mutually_exclusive_ranges: gaps must be 'allowed', 'not_allowed' or 'required', got '"
            ~ gaps ~ "'"
        ) }}
    {%- endif -%}
    {%- set length_operator = '<=' if zero_length_range_allowed else '<' -%}
    {%- set partition_clause = 'partition by ' ~ partition_by if partition_by else '' %}

    with

    ranges as (

        select
            {% if partition_by %}{{ partition_by }} as range_partition,{% endif %}
            {{ lower_bound_column }} as lower_bound,
            {{ upper_bound_column }} as upper_bound,
            lead({{ lower_bound_column }}) over (
                {{ partition_clause }}
                order by {{ lower_bound_column }}, {{ upper_bound_column }}
            ) as next_lower_bound
        from {{ model }}

    )

    select *
    from ranges
    where
        not coalesce(lower_bound {{ length_operator }} upper_bound, false)
        or (
            next_lower_bound is not null
            and not coalesce(upper_bound {{ next_start_operator }} next_lower_bound, false)
        )

{% endtest %}
