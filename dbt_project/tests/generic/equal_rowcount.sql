{#-
    The model has as many rows as `compare_model` (per group of `group_by_columns`, if given):
    nothing dropped or fanned out on the way. Named and shaped like dbt_utils' test.
-#}
{% test equal_rowcount(model, compare_model, group_by_columns=[]) %}

    {{ config(fail_calc='coalesce(sum(row_count_difference), 0)') }}

    {%- set groups = group_by_columns | join(', ') %}

    with

    model_counts as (

        select
            {% if groups %}{{ groups }},{% endif %}
            count(*) as model_rows
        from {{ model }}
        {% if groups %}group by {{ groups }}{% endif %}

    ),

    compare_model_counts as (

        select
            {% if groups %}{{ groups }},{% endif %}
            count(*) as compare_model_rows
        from {{ compare_model }}
        {% if groups %}group by {{ groups }}{% endif %}

    )

    select
        {% for column in group_by_columns -%}
            coalesce(model_counts.{{ column }}, compare_model_counts.{{ column }}) as {{ column }},
        {% endfor -%}
        coalesce(model_counts.model_rows, 0) as model_rows,
        coalesce(compare_model_counts.compare_model_rows, 0) as compare_model_rows,
        abs(
            coalesce(model_counts.model_rows, 0)
            - coalesce(compare_model_counts.compare_model_rows, 0)
        ) as row_count_difference
    from model_counts
    full outer join compare_model_counts
        on {% for column in group_by_columns -%}
            model_counts.{{ column }} = compare_model_counts.{{ column }} and
        {% endfor -%} true
    where
        coalesce(model_counts.model_rows, 0)
        <> coalesce(compare_model_counts.compare_model_rows, 0)

{% endtest %}
