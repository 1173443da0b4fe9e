{#-
    Event files carry ISO 8601 UTC timestamps, and now and then `DD/MM/YYYY HH:MM:SS[.fff]` (also UTC).
    Both become a timestamptz; anything else becomes null, which a test reports.
-#}
{% macro parse_event_timestamp(column_name) %}
    {{ return(adapter.dispatch('parse_event_timestamp')(column_name)) }}
{% endmacro %}

{% macro default__parse_event_timestamp(column_name) %}
    case
        when {{ column_name }} ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$'
            then cast({{ column_name }} as timestamptz)
        when {{ column_name }} ~ '^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}(\.\d+)?$'
            then cast(
                regexp_replace(
                    {{ column_name }}, '^(\d{2})/(\d{2})/(\d{4}) (.*)$', '\3-\2-\1T\4Z'
                ) as timestamptz
            )
    end
{% endmacro %}
