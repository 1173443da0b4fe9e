{#-
    For fast local builds: `dbt build --vars '{dev_days: 3}'` keeps only the last 3 days of a
    large table (relative to its newest row, so it works on old demo data too). It does nothing
    unless the variable is set, and nothing at all outside the dev target.

    Usage, in a model's final select: `select * from renamed {{ limit_rows_in_dev('occurred_at', 'renamed') }}`
-#}
{% macro limit_rows_in_dev(column_name, relation) %}
    {%- set days = var('dev_days', none) -%}
    {%- if target.name == 'dev' and days is not none %}
    where {{ column_name }} >= (
        select {{ dbt.dateadd('day', -1 * (days | int), 'max(' ~ column_name ~ ')') }}
        from {{ relation }} as newest
    )
    {%- endif -%}
{% endmacro %}
