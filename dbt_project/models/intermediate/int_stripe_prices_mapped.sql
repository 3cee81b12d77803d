-- Each live Stripe price and the internal price it stands for, decided like products:
-- 1) app_price_id in the price's metadata, 2) an internal price storing this Stripe price id,
-- 3) an internal price of the mapped internal product with the same amount, currency and
-- interval (inferred). Two or more candidates at the deciding step: ambiguous.
-- The Stripe and internal terms are both kept so catalog_mismatches can compare them.

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

products_mapped as (

    select * from {{ ref('int_stripe_products_mapped') }}

),

stripe_prices as (

    select
        prices.stripe_account_id,
        prices.price_id as stripe_price_id,
        prices.product_id as stripe_product_id,
        prices.is_active as is_stripe_active,
        prices.unit_amount as stripe_unit_amount,
        prices.currency as stripe_currency,
        prices.recurring_interval as stripe_interval,
        coalesce({{ json_text('prices.metadata', 'app_project_id') }}, accounts.project_id) as project_id,
        {{ json_text('prices.metadata', 'app_price_id') }} as metadata_price_id,
        products_mapped.product_id as mapped_product_id
    from {{ ref('stg_stripe__prices') }} as prices
    inner join accounts
        on prices.stripe_account_id = accounts.stripe_account_id
    left join products_mapped
        on prices.stripe_account_id = products_mapped.stripe_account_id
        and prices.product_id = products_mapped.stripe_product_id
        and products_mapped.mapping_status in ('mapped', 'inferred')
    where not prices.is_deleted

),

app_prices as (

    select * from {{ ref('stg_app__prices') }}

),

candidates as (

    select
        stripe_prices.stripe_account_id,
        stripe_prices.stripe_price_id,
        app_prices.price_id,
        1 as match_step,
        'metadata' as match_method
    from stripe_prices
    inner join app_prices
        on stripe_prices.metadata_price_id = app_prices.price_id
        and stripe_prices.project_id = app_prices.project_id

    union all

    select
        stripe_prices.stripe_account_id,
        stripe_prices.stripe_price_id,
        app_prices.price_id,
        2 as match_step,
        'stored_id' as match_method
    from stripe_prices
    inner join app_prices
        on stripe_prices.stripe_price_id = app_prices.stripe_price_id
        and stripe_prices.project_id = app_prices.project_id

    union all

    select
        stripe_prices.stripe_account_id,
        stripe_prices.stripe_price_id,
        app_prices.price_id,
        3 as match_step,
        'product_terms' as match_method
    from stripe_prices
    inner join app_prices
        on stripe_prices.mapped_product_id = app_prices.product_id
        and stripe_prices.project_id = app_prices.project_id
        and stripe_prices.stripe_unit_amount = app_prices.unit_amount
        and stripe_prices.stripe_currency = app_prices.currency
        and coalesce(stripe_prices.stripe_interval, 'one_time') = coalesce(app_prices.recurring_interval, 'one_time')

),

deciding_step as (

    select stripe_account_id, stripe_price_id, min(match_step) as match_step
    from candidates
    group by stripe_account_id, stripe_price_id

),

decided as (

    select
        candidates.stripe_account_id,
        candidates.stripe_price_id,
        min(candidates.match_method) as match_method,
        count(distinct candidates.price_id) as candidate_count,
        min(candidates.price_id) as price_id,
        {{ dbt.listagg('candidates.price_id', "', '", "order by candidates.price_id") }} as candidate_ids
    from candidates
    inner join deciding_step
        on candidates.stripe_account_id = deciding_step.stripe_account_id
        and candidates.stripe_price_id = deciding_step.stripe_price_id
        and candidates.match_step = deciding_step.match_step
    group by candidates.stripe_account_id, candidates.stripe_price_id

),

resolved as (

    select
        stripe_prices.*,
        case when decided.candidate_count = 1 then decided.price_id end as price_id,
        decided.match_method,
        decided.candidate_count,
        decided.candidate_ids
    from stripe_prices
    left join decided
        on stripe_prices.stripe_account_id = decided.stripe_account_id
        and stripe_prices.stripe_price_id = decided.stripe_price_id

)

select
    resolved.project_id,
    resolved.stripe_account_id,
    resolved.stripe_price_id,
    resolved.stripe_product_id,
    resolved.is_stripe_active,
    resolved.stripe_unit_amount,
    resolved.stripe_currency,
    resolved.stripe_interval,
    resolved.price_id,
    -- The internal product: the mapped internal price's own product wins over the product map.
    coalesce(app_prices.product_id, resolved.mapped_product_id) as product_id,
    app_prices.unit_amount as app_unit_amount,
    app_prices.currency as app_currency,
    app_prices.recurring_interval as app_interval,
    app_prices.is_active as is_app_active,
    resolved.match_method,
    case
        when resolved.candidate_count is null then 'unmapped'
        when resolved.candidate_count > 1 then 'ambiguous'
        when resolved.match_method = 'product_terms' then 'inferred'
        else 'mapped'
    end as mapping_status,
    case
        when resolved.candidate_count > 1
            then 'ambiguous: internal prices ' || resolved.candidate_ids || ' all match by ' || resolved.match_method
                || '; set app_price_id in the Stripe price metadata'
        when resolved.match_method = 'metadata' then 'app_price_id in the Stripe price metadata'
        when resolved.match_method = 'stored_id' then 'the internal price stores this Stripe price id'
        when resolved.match_method = 'product_terms'
            then 'inferred: same product, amount, currency and interval; set app_price_id to confirm'
        when resolved.metadata_price_id is not null
            then 'app_price_id ' || resolved.metadata_price_id
                || ' in the Stripe metadata is not an internal price of project ' || resolved.project_id
        when resolved.mapped_product_id is null
            then 'its Stripe product ' || coalesce(resolved.stripe_product_id, '(none)') || ' has no internal product'
        else 'no internal price of product ' || resolved.mapped_product_id
            || ' has this Stripe price id or the same amount, currency and interval'
    end as mapping_note
from resolved
left join app_prices
    on resolved.price_id = app_prices.price_id
