{#-
    The schema of a model, seed, snapshot or stored test: two targets on one server never write
    the same schema.

    - prod: the folder's schema as is (staging, marts, ...), what BI tools read.
    - dev on the embedded server (target schema `local`, the default): the short names too,
      since that server is one developer's own.
    - dev anywhere else: prefixed with the developer's target schema, dbt's own convention
      (DBT_SCHEMA=dbt_alice writes dbt_alice_staging, dbt_alice_marts, ...). A dev target on a
      shared server without a prefix of its own would write prod's schemas: it stops instead.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set name = (custom_schema_name or target.schema) | trim -%}
    {%- if target.name == 'prod' -%}
        {{ name }}
    {%- elif target.schema == 'local' -%}
        {%- if env_var('PGHOST', '') -%}
            {{ exceptions.raise_compiler_error(
                "target " ~ target.name ~ " on the server " ~ env_var('PGHOST')
                ~ " would write prod's schemas: set DBT_SCHEMA to a prefix of your own"
                ~ " (e.g. dbt_" ~ env_var('USER', 'you') ~ ")"
            ) }}
        {%- endif -%}
        {{ name }}
    {%- else -%}
        {{ target.schema | trim }}_{{ name }}
    {%- endif -%}
{%- endmacro %}
