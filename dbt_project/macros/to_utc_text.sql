{#-
    A timestamptz as ISO 8601 text in UTC (2026-01-01T10:00:00.000000Z), for hashing or joining
    as text. A plain cast to text writes the session's time zone (and date style), so the same
    instant would hash differently on a laptop in New York and a server in UTC.
-#}
{% macro to_utc_text(column_name) %}
    {{ return(adapter.dispatch('to_utc_text')(column_name)) }}
{% endmacro %}

{#- Adapters whose timestamp-to-text cast depends on the session need their own version. -#}
{% macro default__to_utc_text(column_name) %}
    cast({{ column_name }} as {{ dbt.type_string() }})
{% endmacro %}

{% macro postgres__to_utc_text(column_name) %}
    to_char(timezone('UTC', {{ column_name }}), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{% endmacro %}
