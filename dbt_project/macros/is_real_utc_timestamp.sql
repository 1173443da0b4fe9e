{#-
    Whether ISO 8601 UTC text (YYYY-MM-DDTHH:MI:SS[.fff]Z, as event_timestamp_as_iso gives)
    names a moment that exists: a month 1-12, a day the month has (29 February in leap years
    only), hours 0-23, minutes and seconds 0-59 (a leap second cannot be stored). Postgres raises
    an error when it casts 2026-02-30T10:00:00Z, and one error would stop the whole model, so the
    fields are checked first, in plain SQL, and only text that passes is ever cast. Null for null.
-#}
{% macro is_real_utc_timestamp(iso_text) %}
    {%- set year = 'cast(substr(' ~ iso_text ~ ', 1, 4) as integer)' -%}
    {%- set month = 'cast(substr(' ~ iso_text ~ ', 6, 2) as integer)' -%}
    {%- set day = 'cast(substr(' ~ iso_text ~ ', 9, 2) as integer)' -%}
    (
        {{ year }} >= 1
        and {{ month }} between 1 and 12
        and {{ day }} between 1 and case
            when {{ month }} in (4, 6, 9, 11) then 30
            when {{ month }} <> 2 then 31
            when mod({{ year }}, 400) = 0 then 29
            when mod({{ year }}, 100) = 0 then 28
            when mod({{ year }}, 4) = 0 then 29
            else 28
        end
        and cast(substr({{ iso_text }}, 12, 2) as integer) <= 23
        and cast(substr({{ iso_text }}, 15, 2) as integer) <= 59
        and cast(substr({{ iso_text }}, 18, 2) as integer) <= 59
    )
{% endmacro %}
