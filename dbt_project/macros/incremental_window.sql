{#-
    The rows an incremental daily model rebuilds, as a condition on `date_column`:
    - with vars `start_date` and `end_date` (end exclusive), exactly those days: Dagster passes a
      partition's window this way, and a backfill reloads exactly the days it names;
    - otherwise the days from the lookback start of `this_date_column` (see lookback_start), so
      events that arrive late still land.
    Outside an incremental run (first build, --full-refresh) every row qualifies.
-#}
{% macro incremental_window(date_column, this_date_column='activity_date') %}
    {%- if not is_incremental() -%}
        true
    {%- elif var('start_date', none) is not none -%}
        {{ date_column }} >= cast('{{ var("start_date") }}' as date)
        and {{ date_column }} < cast('{{ var("end_date") }}' as date)
    {%- else -%}
        {{ date_column }} >= {{ lookback_start(this_date_column) }}
    {%- endif -%}
{% endmacro %}

{#-
    `lookback_days` (var, default 3) before the newest `column_name` already in this
    incremental model: where an incremental build starts re-reading, so that rows which
    arrive or change late are not missed.
-#}
{% macro lookback_start(column_name) -%}
    {#- In hours: a day added to a timestamptz follows the session's time zone (23 or 25 hours
        across a daylight-saving change). -#}
    (select {{ dbt.dateadd('hour', -24 * var('lookback_days', 3), 'max(' ~ column_name ~ ')') }} from {{ this }})
{%- endmacro %}

{#-
    incremental_window for a timestamptz column, as a range on the column itself (so an index on
    it answers): the same UTC days incremental_window selects.
-#}
{% macro incremental_window_on_timestamps(timestamp_column, this_date_column='activity_date') %}
    {%- if not is_incremental() -%}
        true
    {%- elif var('start_date', none) is not none -%}
        {{ timestamp_column }} >= {{ utc_day_start("cast('" ~ var('start_date') ~ "' as date)") }}
        and {{ timestamp_column }} < {{ utc_day_start("cast('" ~ var('end_date') ~ "' as date)") }}
    {%- else -%}
        {{ timestamp_column }} >= {{ utc_day_start(lookback_start(this_date_column)) }}
    {%- endif -%}
{% endmacro %}

{#- The instant a UTC day (a date, or a timestamp without time zone read as UTC) starts. -#}
{% macro utc_day_start(date_expression) -%}
    timezone('UTC', cast({{ date_expression }} as timestamp))
{%- endmacro %}
