{#-
    A stable, one-way hash of personal data (e.g. an email address), trimmed and lower-cased
    first so the same address always hashes the same: joinable, but not readable.
-#}
{% macro hash_pii(column_name) %}
    {{ return(adapter.dispatch('hash_pii')(column_name)) }}
{% endmacro %}

{% macro default__hash_pii(column_name) %}
    md5(lower(trim({{ column_name }})))
{% endmacro %}

{% macro postgres__hash_pii(column_name) %}
    encode(sha256(convert_to(lower(trim({{ column_name }})), 'UTF8')), 'hex')
{% endmacro %}
