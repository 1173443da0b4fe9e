{#-
    dbt's own macro for a data test's `where` config, with one placeholder added, as dbt's docs
    show for custom logic: `__recent_loads__`, the rows of the dlt loads of the last
    `test_lookback_days` (var, default 3) before the newest load in the tested model, which an
    index on `_dlt_load_id` finds. The events models' tests use it: each daily build checks the
    loads it could have written instead of every event ever loaded (at 100 million events those
    scans cost more than the build itself). Older rows were tested when they came; a daily
    build changes them only to re-sessionise a visitor a late event joins, and unique indexes
    keep event_id unique in every row. `dbt build --full-refresh`, or
    `--vars '{test_all_rows: true}'`, tests every row.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__recent_loads__' in where -%}
            {%- set where = where | replace('__recent_loads__', recent_loads(relation)) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- dlt's load id is a Unix time as text (ten digits until 2286), so it orders as text. -#}
{% macro recent_loads(relation, load_id_column='_dlt_load_id') -%}
    {%- if flags.FULL_REFRESH or var('test_all_rows', false) -%}
        true
    {%- else -%}
        {{ load_id_column }} >= (
            select cast(
                cast(max({{ load_id_column }}) as numeric)
                - {{ 86400 * var('test_lookback_days') }} as text
            )
            from {{ relation }}
        )
    {%- endif -%}
{%- endmacro %}
