{#-
    Every row satisfies `expression`, a SQL condition over the model's columns; the rows that
    do not are the failures. On a column, the condition is still written out in full.
-#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}

    select *
    from {{ model }}
    where not ({{ expression }})
    {%- if where_clause %} and ({{ where_clause }}){% endif %}

{% endtest %}
