{#-
    `source(source_name, table_name)`, or an empty relation of the columns the source's YAML
    declares (name and data_type) while the table does not exist yet: dlt creates a table with
    its first row, and a staging view over a table that is not there would fail the build.
-#}
{% macro source_or_empty(source_name, table_name) %}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- if existing is not none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {%- set columns = node.columns.values() | selectattr('data_type') | list -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error(
            "source_or_empty: " ~ relation ~ " does not exist and its YAML declares no columns"
            ~ " with a data_type to stand in for it."
        ) }}
    {%- endif -%}
    {%- do log(relation ~ " does not exist yet; reading it as empty", info=true) -%}
    {%- set empty -%}
        (select
        {%- for column in columns %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}
            {{- "," if not loop.last }}
        {%- endfor %}
        where false) as {{ adapter.quote(table_name) }}
    {%- endset -%}
    {{ return(empty) }}
{% endmacro %}
