-- One row per catalog problem a person should look at, with a badge for the console and a hint
-- saying what to do. Badges:
--   unmapped_in_app     a Stripe product (or price) no internal one matches
--   ambiguous_match     several internal products (or prices) match one Stripe object
--   inferred_match      matched by name / terms only; confirm it with metadata
--   missing_in_stripe   an internal product of a project with Stripe, with no Stripe product
--   price_mismatch      a mapped price whose amount, currency or interval differ
--   archived_in_stripe  archived in Stripe but active internally

with

products_mapped as (

    select * from {{ ref('int_stripe_products_mapped') }}

),

prices_mapped as (

    select * from {{ ref('int_stripe_prices_mapped') }}

),

app_products as (

    select * from {{ ref('stg_app__products') }}

),

projects_with_stripe as (

    select distinct project_id from {{ ref('int_stripe_accounts_attributed') }}

),

product_rows as (

    select
        'product' as entity_type,
        products_mapped.project_id,
        products_mapped.stripe_account_id,
        products_mapped.stripe_product_id as stripe_id,
        products_mapped.product_id as internal_id,
        case products_mapped.mapping_status
            when 'unmapped' then 'unmapped_in_app'
            when 'ambiguous' then 'ambiguous_match'
            else 'inferred_match'
        end as badge,
        'Stripe product ' || coalesce(products_mapped.stripe_product_name, '') || ' (' || products_mapped.stripe_product_id || '): '
            || products_mapped.mapping_note as hint
    from products_mapped
    where products_mapped.mapping_status in ('unmapped', 'ambiguous', 'inferred')

    union all

    select
        'product' as entity_type,
        products_mapped.project_id,
        products_mapped.stripe_account_id,
        products_mapped.stripe_product_id as stripe_id,
        products_mapped.product_id as internal_id,
        'archived_in_stripe' as badge,
        'Stripe product ' || products_mapped.stripe_product_id || ' is archived but internal product '
            || products_mapped.product_id || ' is active: archive it internally or reactivate it in Stripe' as hint
    from products_mapped
    inner join app_products
        on products_mapped.product_id = app_products.product_id
    where products_mapped.mapping_status in ('mapped', 'inferred')
        and not products_mapped.is_stripe_active
        and app_products.is_active

    union all

    select
        'product' as entity_type,
        app_products.project_id,
        cast(null as {{ dbt.type_string() }}) as stripe_account_id,
        cast(null as {{ dbt.type_string() }}) as stripe_id,
        app_products.product_id as internal_id,
        'missing_in_stripe' as badge,
        'internal product ' || coalesce(app_products.product_name, '') || ' (' || app_products.product_id
            || ') has no Stripe product: create one, or set its stripe_product_id' as hint
    from app_products
    inner join projects_with_stripe
        on app_products.project_id = projects_with_stripe.project_id
    where app_products.is_active
        -- A candidate of an ambiguous match has a Stripe product: its badge is on that one.
        and not exists (
            select 1
            from {{ ref('int_stripe_product_candidates') }} as candidates
            where candidates.product_id = app_products.product_id
                and candidates.is_deciding
        )

),

price_rows as (

    select
        'price' as entity_type,
        project_id,
        stripe_account_id,
        stripe_price_id as stripe_id,
        price_id as internal_id,
        case mapping_status
            when 'unmapped' then 'unmapped_in_app'
            when 'ambiguous' then 'ambiguous_match'
            else 'inferred_match'
        end as badge,
        'Stripe price ' || stripe_price_id || ': ' || mapping_note as hint
    from prices_mapped
    where mapping_status in ('unmapped', 'ambiguous', 'inferred')

    union all

    select
        'price' as entity_type,
        project_id,
        stripe_account_id,
        stripe_price_id as stripe_id,
        price_id as internal_id,
        'price_mismatch' as badge,
        'Stripe price ' || stripe_price_id || ' is '
            || coalesce(cast(stripe_unit_amount as {{ dbt.type_string() }}), '?') || ' ' || coalesce(stripe_currency, '?')
            || ' per ' || coalesce(stripe_interval, 'one_time')
            || ' but internal price ' || price_id || ' is '
            || coalesce(cast(app_unit_amount as {{ dbt.type_string() }}), '?') || ' ' || coalesce(app_currency, '?')
            || ' per ' || coalesce(app_interval, 'one_time')
            || ' (minor units): fix whichever is wrong' as hint
    from prices_mapped
    where mapping_status = 'mapped'
        and (
            coalesce(stripe_unit_amount, -1) <> coalesce(app_unit_amount, -1)
            or coalesce(stripe_currency, '') <> coalesce(app_currency, '')
            or coalesce(stripe_interval, 'one_time') <> coalesce(app_interval, 'one_time')
        )

    union all

    select
        'price' as entity_type,
        project_id,
        stripe_account_id,
        stripe_price_id as stripe_id,
        price_id as internal_id,
        'archived_in_stripe' as badge,
        'Stripe price ' || stripe_price_id || ' is archived but internal price ' || price_id
            || ' is active: archive it internally or reactivate it in Stripe' as hint
    from prices_mapped
    where mapping_status in ('mapped', 'inferred')
        and not is_stripe_active
        and is_app_active

),

unioned as (

    select * from product_rows
    union all
    select * from price_rows

)

select
    cast(
        entity_type || ':' || badge || ':' || coalesce(stripe_account_id, '') || ':' || coalesce(stripe_id, '') || ':' || coalesce(internal_id, '')
        as {{ dbt.type_string() }}
    ) as mismatch_id,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(entity_type as {{ dbt.type_string() }}) as entity_type,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(stripe_id as {{ dbt.type_string() }}) as stripe_id,
    cast(internal_id as {{ dbt.type_string() }}) as internal_id,
    cast(badge as {{ dbt.type_string() }}) as badge,
    cast(hint as {{ dbt.type_string() }}) as hint
from unioned
