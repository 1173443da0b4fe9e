{#-
    Every row satisfies `expression`; the rows that do not are the failures. Named and shaped
    like dbt_utils' test: on a model, `expression` is a whole SQL condition
    (`amount_refunded <= amount_paid`); on a column, it continues the column's name
    (`between 0 and 1`). Narrow the rows with dbt's own `config: {where: ...}`.
-#}
{% test expression_is_true(model, expression, column_name=none) %}

    select *
    from {{ model }}
    where not ({% if column_name is not none %}{{ column_name }} {% endif %}{{ expression }})

{% endtest %}
