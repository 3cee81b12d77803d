{{
    config(
        materialized='incremental',
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

-- One row per money movement: every Stripe balance transaction except those of money class
-- `payout` (payouts, transfers, top-ups move the balance to or from a bank or another account;
-- they earn nothing), every declined charge (no balance transaction: zero fee and net), and the
-- host app's own non-Stripe transactions. `type` and `money_class` come from
-- macros/money_classification.sql (docs/money.md). Money is integer minor units of `currency`
-- (the settlement currency for Stripe rows), exactly as the source reports it: never
-- multiplied or divided by 100.
--
-- Incremental: a run re-derives every Stripe row whose landed rows changed since the last run,
-- whatever its age: `source_load_id` is the newest dlt load among the rows it is derived from
-- (the balance transaction, its charge, refund or dispute, payment intent, invoice payment and
-- lines), and a row is rebuilt when that is newer than any this table has seen. So a bank debit
-- failing a week later, or a charge's status change, reaches `status` in the next run. App rows
-- (a small table without load ids) are rebuilt every run. Catalog remaps of old rows need
-- `--full-refresh` (the nightly reconcile does it); so does a table built before a column was
-- added (an existing table lacking one is rebuilt in full, below).

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

charges_attributed as (

    select * from {{ ref('int_charges_attributed') }}

),

balance_rows as (

    select
        'stripe' as source,
        bt.balance_transaction_id as external_id,
        bt.transaction_type as type,
        bt.money_class,
        bt.status,
        bt.amount,
        bt.fee as fee_amount,
        bt.net as net_amount,
        bt.currency,
        bt.presentment_amount,
        bt.presentment_currency,
        bt.exchange_rate,
        coalesce(attributed.project_id, accounts.project_id) as project_id,
        attributed.product_id,
        attributed.price_id,
        attributed.sku_id,
        coalesce(attributed.mapping_status, 'unmapped') as mapping_status,
        coalesce(attributed.mapping_note, 'not linked to a payment: ' || bt.balance_transaction_type) as mapping_note,
        bt.stripe_account_id,
        bt.charge_id,
        bt.source_id as source_object_id,
        bt.balance_transaction_id,
        bt.balance_transaction_type,
        bt.reporting_category,
        {{ newest_load_id(['bt.source_load_id', 'attributed.source_load_id']) }} as source_load_id,
        bt.created_at
    from {{ ref('int_balance_transactions_enriched') }} as bt
    left join accounts
        on bt.stripe_account_id = accounts.stripe_account_id
    left join charges_attributed
        as attributed
        on bt.stripe_account_id = attributed.stripe_account_id
        and bt.charge_id = attributed.charge_id
    where bt.money_class <> 'payout'

),

failed_charges as (

    select
        'stripe' as source,
        charges.charge_id as external_id,
        'charge' as type,
        'declined' as money_class,
        charges.status,
        charges.amount,
        cast(0 as {{ dbt.type_bigint() }}) as fee_amount,
        cast(0 as {{ dbt.type_bigint() }}) as net_amount,
        charges.currency,
        charges.amount as presentment_amount,
        charges.currency as presentment_currency,
        cast(null as double precision) as exchange_rate,
        attributed.project_id,
        attributed.product_id,
        attributed.price_id,
        attributed.sku_id,
        attributed.mapping_status,
        attributed.mapping_note,
        charges.stripe_account_id,
        charges.charge_id,
        charges.charge_id as source_object_id,
        cast(null as {{ dbt.type_string() }}) as balance_transaction_id,
        cast(null as {{ dbt.type_string() }}) as balance_transaction_type,
        cast(null as {{ dbt.type_string() }}) as reporting_category,
        {{ newest_load_id(['charges.dlt_load_id', 'attributed.source_load_id']) }} as source_load_id,
        charges.created_at
    from {{ ref('stg_stripe__charges') }} as charges
    left join charges_attributed
        as attributed
        on charges.stripe_account_id = attributed.stripe_account_id
        and charges.charge_id = attributed.charge_id
    where charges.status = 'failed'
        and charges.balance_transaction_id is null

),

-- Stripe rows the host app mirrors would count twice: Stripe's own data is the truth for them.
app_rows as (

    select
        app_transactions.source,
        app_transactions.transaction_id as external_id,
        case when app_transactions.amount < 0 then 'refund' else 'charge' end as type,
        case
            when app_transactions.status = 'failed' then 'declined'
            when app_transactions.amount < 0 then 'refund'
            else 'revenue'
        end as money_class,
        app_transactions.status,
        app_transactions.amount,
        coalesce(app_transactions.fee_amount, 0) as fee_amount,
        coalesce(app_transactions.net_amount, app_transactions.amount - coalesce(app_transactions.fee_amount, 0)) as net_amount,
        app_transactions.currency,
        app_transactions.amount as presentment_amount,
        app_transactions.currency as presentment_currency,
        cast(null as double precision) as exchange_rate,
        app_transactions.project_id,
        coalesce(app_transactions.product_id, app_skus.product_id) as product_id,
        app_skus.price_id,
        app_transactions.sku_id,
        case
            when coalesce(app_transactions.product_id, app_skus.product_id) is not null then 'mapped'
            else 'unmapped'
        end as mapping_status,
        case
            when coalesce(app_transactions.product_id, app_skus.product_id) is not null
                then 'recorded by the host app'
            else 'the host app recorded no product or SKU'
        end as mapping_note,
        cast(null as {{ dbt.type_string() }}) as stripe_account_id,
        cast(null as {{ dbt.type_string() }}) as charge_id,
        cast(null as {{ dbt.type_string() }}) as source_object_id,
        cast(null as {{ dbt.type_string() }}) as balance_transaction_id,
        cast(null as {{ dbt.type_string() }}) as balance_transaction_type,
        cast(null as {{ dbt.type_string() }}) as reporting_category,
        cast(null as {{ dbt.type_string() }}) as source_load_id,
        app_transactions.created_at
    from {{ ref('stg_app__transactions') }} as app_transactions
    left join {{ ref('stg_app__skus') }} as app_skus
        on app_transactions.sku_id = app_skus.sku_id
    where app_transactions.source <> 'stripe'

),

unioned as (

    select * from balance_rows
    union all
    select * from failed_charges
    union all
    select * from app_rows

)

select
    cast(source || ':' || external_id as {{ dbt.type_string() }}) as transaction_id,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(external_id as {{ dbt.type_string() }}) as external_id,
    cast(type as {{ dbt.type_string() }}) as type,
    cast(money_class as {{ dbt.type_string() }}) as money_class,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(amount as {{ dbt.type_bigint() }}) as amount,
    cast(fee_amount as {{ dbt.type_bigint() }}) as fee_amount,
    cast(net_amount as {{ dbt.type_bigint() }}) as net_amount,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(presentment_amount as {{ dbt.type_bigint() }}) as presentment_amount,
    cast(presentment_currency as {{ dbt.type_string() }}) as presentment_currency,
    cast(exchange_rate as double precision) as exchange_rate,
    cast(product_id as {{ dbt.type_string() }}) as product_id,
    cast(price_id as {{ dbt.type_string() }}) as price_id,
    cast(sku_id as {{ dbt.type_string() }}) as sku_id,
    cast(mapping_status as {{ dbt.type_string() }}) as mapping_status,
    cast(mapping_note as {{ dbt.type_string() }}) as mapping_note,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(charge_id as {{ dbt.type_string() }}) as charge_id,
    cast(source_object_id as {{ dbt.type_string() }}) as source_object_id,
    cast(balance_transaction_id as {{ dbt.type_string() }}) as balance_transaction_id,
    cast(balance_transaction_type as {{ dbt.type_string() }}) as balance_transaction_type,
    cast(reporting_category as {{ dbt.type_string() }}) as reporting_category,
    cast(source_load_id as {{ dbt.type_string() }}) as source_load_id,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from unioned
{% if is_incremental() and not relation_lacks_model_columns(this) %}
where source <> 'stripe'
    or source_load_id > (select coalesce(max(source_load_id), '') from {{ this }})
{% endif %}
