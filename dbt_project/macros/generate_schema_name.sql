{#-
    Models land in the schema their folder names (staging, marts, ...) in every target, not in
    dbt's default "<target schema>_<custom schema>". Each developer's dev target is their own
    embedded server, so there is nothing to keep apart, and BI tools see the same names everywhere.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
