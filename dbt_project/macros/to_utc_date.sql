{#-
    The UTC calendar day of a timestamptz. A plain cast to date uses the session's time zone,
    which differs between laptops and servers; reports must not.
-#}
{% macro to_utc_date(column_name) %}
    {{ return(adapter.dispatch('to_utc_date')(column_name)) }}
{% endmacro %}

{% macro default__to_utc_date(column_name) %}
    cast({{ column_name }} as date)
{% endmacro %}

{% macro postgres__to_utc_date(column_name) %}
    cast(timezone('UTC', {{ column_name }}) as date)
{% endmacro %}
