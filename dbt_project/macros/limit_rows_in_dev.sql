{#-
    For fast local builds: `dbt build --vars '{dev_days: 3}'` keeps only the last 3 whole UTC days
    of a large table (counted back from the day of its newest row, so it works on old demo data
    too). It does nothing unless the variable is set, and nothing at all outside the dev target.
    Incremental models downstream write only the days such a build read whole (fct_daily_activity).

    Usage, in a model's final select: `select * from renamed {{ limit_rows_in_dev('occurred_at', 'renamed') }}`
-#}
{% macro limit_rows_in_dev(column_name, relation) %}
    {%- set days = var('dev_days', none) -%}
    {%- if target.name == 'dev' and days is not none %}
    where {{ to_utc_date(column_name) }} > (
        select {{ dbt.dateadd('day', -1 * (days | int), 'max(' ~ to_utc_date(column_name) ~ ')') }}
        from {{ relation }} as newest
    )
    {%- endif -%}
{% endmacro %}
