-- Each live Stripe product with every internal product that could be it, and at which step:
-- 1) app_product_id in the Stripe product's metadata, 2) an internal product storing this
-- Stripe product id, 3) the same normalized name. `is_deciding` marks the candidates of the
-- first step that has any: int_stripe_products_mapped decides from those, and
-- catalog_mismatches does not call an internal product "missing in Stripe" when it is one.
-- A Stripe product without any candidate has one row with a null product_id.

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

stripe_products as (

    select
        products.stripe_account_id,
        products.product_id as stripe_product_id,
        products.product_name as stripe_product_name,
        products.is_active as is_stripe_active,
        coalesce({{ json_text('products.metadata', 'app_project_id') }}, accounts.project_id) as project_id,
        {{ json_text('products.metadata', 'app_product_id') }} as metadata_product_id
    from {{ ref('stg_stripe__products') }} as products
    inner join accounts
        on products.stripe_account_id = accounts.stripe_account_id
    where not products.is_deleted

),

app_products as (

    select * from {{ ref('stg_app__products') }}

),

candidates as (

    select
        stripe_products.stripe_account_id,
        stripe_products.stripe_product_id,
        app_products.product_id,
        1 as match_step,
        'metadata' as match_method
    from stripe_products
    inner join app_products
        on stripe_products.metadata_product_id = app_products.product_id
        and stripe_products.project_id = app_products.project_id

    union all

    select
        stripe_products.stripe_account_id,
        stripe_products.stripe_product_id,
        app_products.product_id,
        2 as match_step,
        'stored_id' as match_method
    from stripe_products
    inner join app_products
        on stripe_products.stripe_product_id = app_products.stripe_product_id
        and stripe_products.project_id = app_products.project_id

    union all

    select
        stripe_products.stripe_account_id,
        stripe_products.stripe_product_id,
        app_products.product_id,
        3 as match_step,
        'name' as match_method
    from stripe_products
    inner join app_products
        on {{ normalized_name('stripe_products.stripe_product_name') }} = {{ normalized_name('app_products.product_name') }}
        and stripe_products.project_id = app_products.project_id

),

deciding_step as (

    select stripe_account_id, stripe_product_id, min(match_step) as match_step
    from candidates
    group by stripe_account_id, stripe_product_id

)

select
    stripe_products.project_id,
    stripe_products.stripe_account_id,
    stripe_products.stripe_product_id,
    stripe_products.stripe_product_name,
    stripe_products.is_stripe_active,
    stripe_products.metadata_product_id,
    candidates.product_id,
    candidates.match_step,
    candidates.match_method,
    coalesce(candidates.match_step = deciding_step.match_step, false) as is_deciding
from stripe_products
left join candidates
    on stripe_products.stripe_account_id = candidates.stripe_account_id
    and stripe_products.stripe_product_id = candidates.stripe_product_id
left join deciding_step
    on stripe_products.stripe_account_id = deciding_step.stripe_account_id
    and stripe_products.stripe_product_id = deciding_step.stripe_product_id
