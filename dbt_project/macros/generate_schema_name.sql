{#- Schemas are exactly `staging`, `intermediate`, `marts` (not dbt's default `<target>_marts`):
    BI tools and the publish step read `marts.*` whatever the target's default schema is. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
