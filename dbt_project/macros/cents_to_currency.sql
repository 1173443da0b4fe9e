{#- An amount in integer cents as a decimal amount of the currency, e.g. 1999 -> 19.99. -#}
{% macro cents_to_currency(column_name, scale=2) %}
    {{ return(adapter.dispatch('cents_to_currency')(column_name, scale)) }}
{% endmacro %}

{% macro default__cents_to_currency(column_name, scale) %}
    cast({{ column_name }} / 100.0 as numeric(16, {{ scale }}))
{% endmacro %}
