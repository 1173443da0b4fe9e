{#-
    `column_name` of `relation` when the relation has that column, else a typed null. For columns
    a loader adds only once the data brings them (dlt's `evolve` contract): a new CSV column such
    as `currency`, or the variant column `spend__v_text` for values it could not type. The view
    is rebuilt by every `dbt build` after a load, so it picks the column up as soon as it exists.
-#}
{% macro column_or_null(relation, column_name, data_type) %}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name | lower == column_name | lower -%}
                {{ return(adapter.quote(column.name)) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('cast(null as ' ~ data_type ~ ')') }}
{% endmacro %}
