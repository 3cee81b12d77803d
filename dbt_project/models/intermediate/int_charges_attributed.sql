-- Every charge (succeeded or failed) with its project and the internal product, price and SKU
-- it paid for. What leads there, first hit wins:
--   1) app_sku_id in the charge's (else its payment intent's) metadata: an internal SKU;
--   2) app_price_id there: an internal price (and its SKU when the price has exactly one);
--   3) the charge's invoice lines, through the Stripe price and product maps. The invoice is
--      the one whose payment (invoice_payments) is the charge or its payment intent: at API
--      versions since 2025-03-31 a charge no longer names its invoice (`charges.invoice`, kept
--      for data landed at older versions, is used when set).
-- A charge reached by none of them is `unmapped`, and mapping_note says why.
-- Project: app_project_id in the payment's metadata wins over the account's project.

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

charges as (

    select
        charges.*,
        {{ json_text('charges.metadata', 'app_project_id') }} as charge_project_id,
        {{ json_text('charges.metadata', 'app_sku_id') }} as charge_sku_id,
        {{ json_text('charges.metadata', 'app_price_id') }} as charge_price_id
    from {{ ref('stg_stripe__charges') }} as charges

),

-- One invoice per payment: a paid invoice payment wins over an open or canceled one.
invoice_of_payment as (

    select
        stripe_account_id,
        payment_key,
        min(invoice_id) as invoice_id,
        max(dlt_load_id) as dlt_load_id
    from (
        select
            stripe_account_id,
            coalesce(charge_id, payment_intent_id) as payment_key,
            invoice_id,
            dlt_load_id,
            rank() over (
                partition by stripe_account_id, coalesce(charge_id, payment_intent_id)
                order by case status when 'paid' then 0 when 'open' then 1 else 2 end
            ) as preference
        from {{ ref('stg_stripe__invoice_payments') }}
        where not is_deleted
            and coalesce(charge_id, payment_intent_id) is not null
    ) as ranked
    where preference = 1
    group by stripe_account_id, payment_key

),

charges_invoiced as (

    select
        charges.*,
        coalesce(charges.invoice_id, by_charge.invoice_id, by_intent.invoice_id) as paid_invoice_id,
        {{ newest_load_id(['charges.dlt_load_id', 'by_charge.dlt_load_id', 'by_intent.dlt_load_id']) }} as charge_load_id
    from charges
    left join invoice_of_payment as by_charge
        on charges.stripe_account_id = by_charge.stripe_account_id
        and charges.charge_id = by_charge.payment_key
    left join invoice_of_payment as by_intent
        on charges.stripe_account_id = by_intent.stripe_account_id
        and charges.payment_intent_id = by_intent.payment_key

),

payment_intents as (

    select
        stripe_account_id,
        payment_intent_id,
        dlt_load_id,
        {{ json_text('metadata', 'app_project_id') }} as intent_project_id,
        {{ json_text('metadata', 'app_sku_id') }} as intent_sku_id,
        {{ json_text('metadata', 'app_price_id') }} as intent_price_id
    from {{ ref('stg_stripe__payment_intents') }}

),

app_skus as (

    select * from {{ ref('stg_app__skus') }}

),

app_prices as (

    select * from {{ ref('stg_app__prices') }}

),

-- A price leads to a SKU only when exactly one SKU sells it.
sku_of_price as (

    select price_id, min(sku_id) as sku_id
    from app_skus
    where price_id is not null
    group by price_id
    having count(*) = 1

),

invoice_lines_resolved as (

    select
        lines.stripe_account_id,
        lines.invoice_id,
        lines.dlt_load_id,
        coalesce(price_map.product_id, product_map.product_id) as product_id,
        price_map.price_id,
        case
            when price_map.mapping_status in ('mapped', 'inferred', 'ambiguous') then price_map.mapping_status
            when product_map.mapping_status in ('mapped', 'inferred', 'ambiguous')
                then case when product_map.mapping_status = 'mapped' then 'inferred' else product_map.mapping_status end
            else 'unmapped'
        end as line_status
    from {{ ref('stg_stripe__invoice_line_items') }} as lines
    left join {{ ref('int_stripe_prices_mapped') }} as price_map
        on lines.stripe_account_id = price_map.stripe_account_id
        and lines.price_id = price_map.stripe_price_id
    left join {{ ref('int_stripe_products_mapped') }} as product_map
        on lines.stripe_account_id = product_map.stripe_account_id
        and lines.product_id = product_map.stripe_product_id

),

invoices_resolved as (

    select
        stripe_account_id,
        invoice_id,
        count(*) as line_count,
        count(distinct product_id) as product_count,
        count(distinct price_id) as price_count,
        min(product_id) as product_id,
        min(price_id) as price_id,
        sum(case when line_status = 'ambiguous' then 1 else 0 end) as ambiguous_lines,
        sum(case when line_status = 'unmapped' then 1 else 0 end) as unmapped_lines,
        sum(case when line_status = 'inferred' then 1 else 0 end) as inferred_lines,
        max(dlt_load_id) as dlt_load_id
    from invoice_lines_resolved
    group by stripe_account_id, invoice_id

),

joined as (

    select
        charges.stripe_account_id,
        charges.charge_id,
        charges.payment_intent_id,
        charges.paid_invoice_id as invoice_id,
        {{ newest_load_id(['charges.charge_load_id', 'payment_intents.dlt_load_id', 'invoices_resolved.dlt_load_id']) }} as source_load_id,
        coalesce(charges.charge_project_id, payment_intents.intent_project_id, accounts.project_id) as project_id,
        coalesce(charges.charge_sku_id, payment_intents.intent_sku_id) as metadata_sku_id,
        coalesce(charges.charge_price_id, payment_intents.intent_price_id) as metadata_price_id,
        app_skus.sku_id as sku_sku_id,
        app_skus.product_id as sku_product_id,
        app_skus.price_id as sku_price_id,
        app_prices.price_id as price_price_id,
        app_prices.product_id as price_product_id,
        sku_of_price.sku_id as price_sku_id,
        invoices_resolved.line_count as invoice_line_count,
        invoices_resolved.product_count as invoice_product_count,
        invoices_resolved.product_id as invoice_product_id,
        case when invoices_resolved.price_count = 1 then invoices_resolved.price_id end as invoice_price_id,
        case
            when invoices_resolved.line_count is null then null
            when invoices_resolved.ambiguous_lines > 0 or invoices_resolved.product_count > 1 then 'ambiguous'
            when invoices_resolved.unmapped_lines > 0 or invoices_resolved.product_count = 0 then 'unmapped'
            when invoices_resolved.inferred_lines > 0 then 'inferred'
            else 'mapped'
        end as invoice_status
    from charges_invoiced as charges
    left join accounts
        on charges.stripe_account_id = accounts.stripe_account_id
    left join payment_intents
        on charges.stripe_account_id = payment_intents.stripe_account_id
        and charges.payment_intent_id = payment_intents.payment_intent_id
    left join app_skus
        on coalesce(charges.charge_sku_id, payment_intents.intent_sku_id) = app_skus.sku_id
    left join app_prices
        on coalesce(charges.charge_price_id, payment_intents.intent_price_id) = app_prices.price_id
    left join sku_of_price
        on app_prices.price_id = sku_of_price.price_id
    left join invoices_resolved
        on charges.stripe_account_id = invoices_resolved.stripe_account_id
        and charges.paid_invoice_id = invoices_resolved.invoice_id

),

invoice_skus as (

    select joined.charge_id, joined.stripe_account_id, sku_of_price.sku_id
    from joined
    inner join sku_of_price
        on joined.invoice_price_id = sku_of_price.price_id

)

select
    joined.stripe_account_id,
    joined.charge_id,
    joined.payment_intent_id,
    joined.invoice_id,
    joined.source_load_id,
    joined.project_id,
    case
        when joined.sku_sku_id is not null then joined.sku_product_id
        when joined.price_price_id is not null then joined.price_product_id
        when joined.invoice_status in ('mapped', 'inferred') then joined.invoice_product_id
    end as product_id,
    case
        when joined.sku_sku_id is not null then joined.sku_price_id
        when joined.price_price_id is not null then joined.price_price_id
        when joined.invoice_status in ('mapped', 'inferred') then joined.invoice_price_id
    end as price_id,
    case
        when joined.sku_sku_id is not null then joined.sku_sku_id
        when joined.price_price_id is not null then joined.price_sku_id
        when joined.invoice_status in ('mapped', 'inferred') then invoice_skus.sku_id
    end as sku_id,
    case
        when joined.sku_sku_id is not null then 'metadata_sku'
        when joined.price_price_id is not null then 'metadata_price'
        when joined.invoice_status is not null then 'invoice_line'
    end as match_method,
    case
        when joined.sku_sku_id is not null or joined.price_price_id is not null then 'mapped'
        when joined.invoice_status is not null then joined.invoice_status
        else 'unmapped'
    end as mapping_status,
    case
        when joined.sku_sku_id is not null then 'app_sku_id in the payment metadata'
        when joined.price_price_id is not null then 'app_price_id in the payment metadata'
        when joined.invoice_status = 'mapped' then 'the invoice lines map to one internal product'
        when joined.invoice_status = 'inferred' then 'the invoice lines map to one internal product, by an inferred catalog match'
        when joined.invoice_status = 'ambiguous'
            then 'the invoice lines map to ' || cast(joined.invoice_product_count as {{ dbt.type_string() }})
                || ' internal products, or a line is ambiguous'
        when joined.invoice_status = 'unmapped' then 'an invoice line has no internal product (see catalog_mismatches)'
        when joined.metadata_sku_id is not null
            then 'app_sku_id ' || joined.metadata_sku_id || ' in the payment metadata is not an internal SKU'
        when joined.metadata_price_id is not null
            then 'app_price_id ' || joined.metadata_price_id || ' in the payment metadata is not an internal price'
        else 'no app_sku_id or app_price_id in the payment metadata and no invoice'
    end as mapping_note
from joined
left join invoice_skus
    on joined.stripe_account_id = invoice_skus.stripe_account_id
    and joined.charge_id = invoice_skus.charge_id
