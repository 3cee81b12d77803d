{#- Cross-database expressions the models need beyond dbt's own (dbt.date_trunc, dbt.safe_cast,
    dbt.type_*): the same models build on DuckDB and Postgres. Every timestamp in the project is
    a naive timestamp in UTC. -#}

{#- Stripe's integer Unix seconds as a UTC timestamp. -#}
{% macro epoch_to_timestamp(column) -%}
    {{ return(adapter.dispatch('epoch_to_timestamp', 'stripe_pipeline')(column)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(column) -%}
    (to_timestamp({{ column }}) at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__epoch_to_timestamp(column) -%}
    {#- make_timestamp(microseconds) is already naive UTC and needs no ICU time zone data. -#}
    make_timestamp(cast({{ column }} as bigint) * 1000000)
{%- endmacro %}

{#- One top-level key of a JSON text column (Stripe metadata) as text; null when absent. -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'stripe_pipeline')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    (cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{#- The build's wall-clock time as a naive UTC timestamp (for staleness and lag). -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'stripe_pipeline')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    (now() at time zone 'UTC')
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    make_timestamp(epoch_us(now()))
{%- endmacro %}

{#- Seconds between two timestamps, as a bigint. -#}
{% macro seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('seconds_between', 'stripe_pipeline')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__seconds_between(start_ts, end_ts) -%}
    cast(extract(epoch from ({{ end_ts }} - {{ start_ts }})) as bigint)
{%- endmacro %}

{% macro duckdb__seconds_between(start_ts, end_ts) -%}
    date_diff('second', {{ start_ts }}, {{ end_ts }})
{%- endmacro %}

{#- Names compared for the inferred product match: case, surrounding and repeated blanks ignored. -#}
{% macro normalized_name(column) -%}
    lower(trim(regexp_replace({{ column }}, '\s+', ' ', 'g')))
{%- endmacro %}

{#- An ISO-8601 text timestamp with an offset (e.g. from a JSON cursor) as a naive UTC timestamp. -#}
{% macro iso_to_utc_timestamp(expression) -%}
    (cast({{ expression }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- The sum of the integer values of the JSON object under `key` ({"charges": 120, ...}); null
    when absent or empty. -#}
{% macro json_object_values_sum(column, key) -%}
    {{ return(adapter.dispatch('json_object_values_sum', 'stripe_pipeline')(column, key)) }}
{%- endmacro %}

{% macro default__json_object_values_sum(column, key) -%}
    (
        select sum(cast(entry.value as bigint))
        from jsonb_each_text(
            case when jsonb_typeof(cast({{ column }} as jsonb) -> '{{ key }}') = 'object'
                then cast({{ column }} as jsonb) -> '{{ key }}' else '{}'::jsonb end
        ) as entry
    )
{%- endmacro %}

{% macro duckdb__json_object_values_sum(column, key) -%}
    list_sum(list_transform(json_extract({{ column }}, '$.{{ key }}.*'), x -> cast(x as bigint)))
{%- endmacro %}

{#- `select <alias>.*, <element> as <element_name> from (<relation>) as <alias>`, one row per
    element of the JSON array under `key` of `column` (rows without one drop out). -#}
{% macro select_json_array_elements(relation, alias, column, key, element_name) -%}
    {{ return(adapter.dispatch('select_json_array_elements', 'stripe_pipeline')(relation, alias, column, key, element_name)) }}
{%- endmacro %}

{% macro default__select_json_array_elements(relation, alias, column, key, element_name) -%}
    select {{ alias }}.*, element.value as {{ element_name }}
    from {{ relation }} as {{ alias }}
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(cast({{ alias }}.{{ column }} as jsonb) -> '{{ key }}') = 'array'
            then cast({{ alias }}.{{ column }} as jsonb) -> '{{ key }}' else '[]'::jsonb end
    ) as element
{%- endmacro %}

{% macro duckdb__select_json_array_elements(relation, alias, column, key, element_name) -%}
    select {{ alias }}.*, unnest(json_extract({{ alias }}.{{ column }}, '$.{{ key }}[*]')) as {{ element_name }}
    from {{ relation }} as {{ alias }}
{%- endmacro %}

{#- The newest of several dlt load ids (text, null when none). dlt's load ids are Unix seconds
    with a fraction ("1767600000.123456"): while the integer part keeps its ten digits, their
    text order is their time order, and text keeps every digit a double would round. -#}
{% macro newest_load_id(columns) -%}
    nullif(greatest({% for column in columns %}coalesce({{ column }}, ''){{ ", " if not loop.last }}{% endfor %}), '')
{%- endmacro %}

{#- True when an existing table lacks a column its model declares (a table built by an older
    version of the model): an incremental model then re-derives every row once. -#}
{% macro relation_lacks_model_columns(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- for name in model.columns.keys() -%}
        {%- if name | lower not in existing -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}
