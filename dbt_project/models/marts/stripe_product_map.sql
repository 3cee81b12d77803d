-- StripeProductMap: each live Stripe product, the internal product it maps to (null unless
-- mapped or inferred) and how. See int_stripe_products_mapped for the matching order.

select
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(stripe_product_id as {{ dbt.type_string() }}) as stripe_product_id,
    cast(product_id as {{ dbt.type_string() }}) as product_id,
    cast(match_method as {{ dbt.type_string() }}) as match_method,
    cast(mapping_status as {{ dbt.type_string() }}) as mapping_status,
    cast(mapping_note as {{ dbt.type_string() }}) as mapping_note,
    cast(stripe_product_name as {{ dbt.type_string() }}) as stripe_product_name,
    cast(is_stripe_active as {{ dbt.type_boolean() }}) as is_stripe_active
from {{ ref('int_stripe_products_mapped') }}
