-- Each live Stripe product and the internal product it stands for. The first step with any
-- candidate decides (int_stripe_product_candidates): 1) app_product_id in the Stripe product's
-- metadata, 2) an internal product storing this Stripe product id, 3) the same normalized name
-- (inferred). Two or more candidates at the deciding step make the product ambiguous: nothing
-- is guessed.

with

candidates as (

    select * from {{ ref('int_stripe_product_candidates') }}

),

stripe_products as (

    select distinct
        project_id,
        stripe_account_id,
        stripe_product_id,
        stripe_product_name,
        is_stripe_active,
        metadata_product_id
    from candidates

),

decided as (

    select
        stripe_account_id,
        stripe_product_id,
        min(match_method) as match_method,
        count(distinct product_id) as candidate_count,
        min(product_id) as product_id,
        {{ dbt.listagg('product_id', "', '", "order by product_id") }} as candidate_ids
    from candidates
    where is_deciding
    group by stripe_account_id, stripe_product_id

)

select
    stripe_products.project_id,
    stripe_products.stripe_account_id,
    stripe_products.stripe_product_id,
    stripe_products.stripe_product_name,
    stripe_products.is_stripe_active,
    case when decided.candidate_count = 1 then decided.product_id end as product_id,
    decided.match_method,
    case
        when decided.candidate_count is null then 'unmapped'
        when decided.candidate_count > 1 then 'ambiguous'
        when decided.match_method = 'name' then 'inferred'
        else 'mapped'
    end as mapping_status,
    case
        when decided.candidate_count > 1
            then 'ambiguous: internal products ' || decided.candidate_ids || ' all match by ' || decided.match_method
                || '; set app_product_id in the Stripe product metadata'
        when decided.match_method = 'metadata' then 'app_product_id in the Stripe product metadata'
        when decided.match_method = 'stored_id' then 'the internal product stores this Stripe product id'
        when decided.match_method = 'name'
            then 'inferred from the product name; set app_product_id in the Stripe metadata to confirm'
        when stripe_products.metadata_product_id is not null
            then 'app_product_id ' || stripe_products.metadata_product_id
                || ' in the Stripe metadata is not an internal product of project ' || stripe_products.project_id
        else 'no internal product has this Stripe product id or the name ' || coalesce(stripe_products.stripe_product_name, '(none)')
    end as mapping_note
from stripe_products
left join decided
    on stripe_products.stripe_account_id = decided.stripe_account_id
    and stripe_products.stripe_product_id = decided.stripe_product_id
