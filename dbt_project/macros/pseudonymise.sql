{#-
    A pseudonym for personal data (an email address): a keyed hash (HMAC-SHA256) of the trimmed,
    lower-cased value, so the same address always gives the same pseudonym (joinable) and nobody
    without the key can test a guess (an unkeyed hash of a known address is one lookup away).

    The key lives in the database, in a table only its owner reads; the transformer may call
    pseudonymisation.pseudonymise() and nothing else (warehouse/roles.py). It is never in dbt's
    SQL, manifest or logs.
-#}
{% macro pseudonymise(column_name) %}
    {{ return(adapter.dispatch('pseudonymise')(column_name)) }}
{% endmacro %}

{% macro postgres__pseudonymise(column_name) %}
    pseudonymisation.pseudonymise(lower(trim({{ column_name }})))
{% endmacro %}
