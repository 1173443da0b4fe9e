{#-
    An event's timestamp text as ISO 8601 UTC text, whichever of the two formats the files carry:
    2026-01-31T10:00:00[.fff]Z as is, and 31/01/2026 10:00:00[.fff] (also UTC) rewritten to it.
    Any other text becomes null: an unknown format. The result names fields in fixed places, for
    is_real_utc_timestamp to check before anything casts it.
-#}
{% macro event_timestamp_as_iso(column_name) %}
    {{ return(adapter.dispatch('event_timestamp_as_iso')(column_name)) }}
{% endmacro %}

{% macro postgres__event_timestamp_as_iso(column_name) %}
    case
        when {{ column_name }} ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$'
            then {{ column_name }}
        when {{ column_name }} ~ '^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}(\.\d+)?$'
            then regexp_replace(
                {{ column_name }}, '^(\d{2})/(\d{2})/(\d{4}) (.*)$', '\3-\2-\1T\4Z'
            )
    end
{% endmacro %}
