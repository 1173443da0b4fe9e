{#-
    Each combination of `combination_of_columns` appears at most once: a compound primary key.
    Named and shaped like dbt_utils' test of the same name, so switching to the package is a
    one-line change. Nulls group together, so pair it with not_null on each column.
-#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}

    {%- set columns = [] -%}
    {%- for column in combination_of_columns -%}
        {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
    {%- endfor %}

    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1

{% endtest %}
