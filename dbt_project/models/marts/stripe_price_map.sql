-- StripePriceMap: each live Stripe price, the internal price (and product) it maps to and how.
-- See int_stripe_prices_mapped for the matching order.

select
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(stripe_price_id as {{ dbt.type_string() }}) as stripe_price_id,
    cast(price_id as {{ dbt.type_string() }}) as price_id,
    cast(case when mapping_status in ('mapped', 'inferred') then product_id end as {{ dbt.type_string() }}) as product_id,
    cast(match_method as {{ dbt.type_string() }}) as match_method,
    cast(mapping_status as {{ dbt.type_string() }}) as mapping_status,
    cast(mapping_note as {{ dbt.type_string() }}) as mapping_note,
    cast(stripe_product_id as {{ dbt.type_string() }}) as stripe_product_id,
    cast(stripe_unit_amount as {{ dbt.type_bigint() }}) as stripe_unit_amount,
    cast(stripe_currency as {{ dbt.type_string() }}) as stripe_currency,
    cast(stripe_interval as {{ dbt.type_string() }}) as stripe_interval,
    cast(is_stripe_active as {{ dbt.type_boolean() }}) as is_stripe_active
from {{ ref('int_stripe_prices_mapped') }}
