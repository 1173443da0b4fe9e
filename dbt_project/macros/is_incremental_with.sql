{#-
    is_incremental(), and this model's table already has `column_name`: an incremental model
    that starts reading a new bookkeeping column from {{ this }} builds every row once, instead
    of failing on a table built before the column existed (on_schema_change adds the column).
-#}
{% macro is_incremental_with(column_name) %}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return(column_name in columns) }}
{% endmacro %}

{#-
    A condition on `load_id_column` (dlt's load id: a Unix time as text, which orders as text):
    the rows of the loads newer than the newest one this incremental model holds in
    `this_load_id_column`. Read from a model that holds whole loads only (staging reads
    `from_completed_dlt_loads`), so a load is read once, whole. True on a first build, a full
    refresh, or a table built before `this_load_id_column` existed.
-#}
{% macro loaded_since_last_build(load_id_column='_dlt_load_id', this_load_id_column='_dlt_load_id') %}
    {%- if is_incremental_with(this_load_id_column) -%}
        {{ load_id_column }} > (select coalesce(max({{ this_load_id_column }}), '') from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{% endmacro %}
