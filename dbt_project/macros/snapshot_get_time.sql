{#-
    dbt-postgres closes hard-deleted snapshot rows at `now()::timestamp`, a naive timestamp, while
    our updated_at columns (and so dbt_valid_from/to) are timestamptz. The same type both ways
    keeps validity intervals comparable and silences dbt's SnapshotTimestampWarning.
-#}
{% macro postgres__snapshot_get_time() -%}
    now()
{%- endmacro %}
