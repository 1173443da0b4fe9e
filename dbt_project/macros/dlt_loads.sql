{#-
    A condition on `load_id_column` of `relation` (a table dlt loads): the rows of loads dlt has
    completed, i.e. recorded in the `_dlt_loads` table of the same schema with status 0. dlt
    records a load there once all its files are in, so a model reading only these rows reads
    each load whole or not at all: a build running while a load still commits its files waits
    for the next build to read that load, and the rows of a load that died are never read (the
    next load reads their files again and replaces them).
-#}
{% macro from_completed_dlt_loads(relation, load_id_column='_dlt_load_id') %}
    {%- set loads = api.Relation.create(
        database=relation.database, schema=relation.schema, identifier='_dlt_loads'
    ) -%}
    {{ load_id_column }} in (select load_id from {{ loads }} where status = 0)
{%- endmacro %}
