{#- Reads a landed table with exactly the columns its sources yml declares, typed.

    Why: dlt creates a table only once a resource yields rows, and a column only once some row
    has a value for it; the ops and app loaders may not have run at all (a warehouse with only
    Stripe data). Staging must still build, so a missing table reads as an empty one and a
    missing column as nulls. Timestamps with a time zone become naive UTC, JSON becomes text.
    The declared `data_type`s are logical: text, bigint, boolean, double, timestamp, json. -#}
{% macro landed_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        select * from {{ relation }}
    {%- else -%}
        {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
        {%- set declared = node.columns.values() | list -%}
        {%- if declared | length == 0 -%}
            {{ exceptions.raise_compiler_error('source ' ~ source_name ~ '.' ~ table_name ~ ' declares no columns; landed_source needs them') }}
        {%- endif -%}
        {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- set actual = {} -%}
        {%- if existing is not none -%}
            {%- for column in adapter.get_columns_in_relation(existing) -%}
                {%- do actual.update({column.name | lower: column.data_type | lower}) -%}
            {%- endfor -%}
        {%- endif -%}
        select
        {%- for column in declared %}
            {{ landed_column(column.name, column.data_type, actual.get(column.name | lower)) }} as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        {%- if existing is not none %}
        from {{ relation }}
        {%- else %}
        {#- Logged so an operator sees why a model is empty. -#}
        {%- do log('landed table ' ~ relation ~ ' does not exist yet; reading it as empty', info=true) -%}
        where 1 = 0
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro landed_type(logical_type) -%}
    {%- set types = {
        'text': 'text',
        'json': 'text',
        'bigint': 'bigint',
        'boolean': 'boolean',
        'double': 'double precision',
        'timestamp': 'timestamp',
    } -%}
    {%- if logical_type not in types -%}
        {{ exceptions.raise_compiler_error('unknown landed data_type ' ~ logical_type ~ '; use one of ' ~ (types.keys() | list | join(', '))) }}
    {%- endif -%}
    {{- types[logical_type] -}}
{%- endmacro %}

{% macro landed_column(name, logical_type, actual_type) -%}
    {%- set target_type = landed_type(logical_type) -%}
    {%- if actual_type is none -%}
        cast(null as {{ target_type }})
    {%- elif logical_type == 'timestamp' and ('with time zone' in actual_type or 'timestamptz' in actual_type) -%}
        cast(({{ adapter.quote(name) }} at time zone 'UTC') as timestamp)
    {%- else -%}
        cast({{ adapter.quote(name) }} as {{ target_type }})
    {%- endif -%}
{%- endmacro %}
