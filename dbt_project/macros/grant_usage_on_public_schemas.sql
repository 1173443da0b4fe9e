{#-
    GRANT USAGE on every schema holding a public model to `role`, for an on-run-end hook: dbt's
    `grants` give SELECT on each relation, but a reader also needs the schema. A schema this run
    did not create yet is skipped.
-#}
{% macro grant_usage_on_public_schemas(role) %}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.config.get('access') == 'public'
                and node.schema not in schemas -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for schema in schemas %}
            do $$ begin
                if exists (select from pg_namespace where nspname = '{{ schema }}') then
                    grant usage on schema {{ adapter.quote(schema) }} to {{ adapter.quote(role) }};
                end if;
            end $$;
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
