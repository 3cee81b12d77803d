{{
    config(
        materialized='incremental',
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per money movement: every Stripe balance transaction except payouts and transfers
-- (they move the balance to a bank or another account, they earn nothing), every failed charge
-- (no balance transaction: zero fee and net), and the host app's own non-Stripe transactions.
-- Money is integer minor units of `currency` (the settlement currency for Stripe rows), exactly
-- as the source reports it: never multiplied or divided by 100.
--
-- Incremental: a run re-derives the rows created in the last var('transactions_lookback_days')
-- days before the newest row already here, so a refund or dispute on an old charge (its own,
-- new balance transaction) lands in seconds. `--full-refresh` rebuilds the same rows.

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
        bt.created_at
    from {{ ref('int_balance_transactions_enriched') }} as bt
    left join accounts
        on bt.stripe_account_id = accounts.stripe_account_id
    left join charges_attributed
        as attributed
        on bt.stripe_account_id = attributed.stripe_account_id
        and bt.charge_id = attributed.charge_id
    where bt.transaction_type not in ('payout', 'transfer')

),

failed_charges as (

    select
        'stripe' as source,
        charges.charge_id as external_id,
        'charge' as type,
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
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from unioned
{% if is_incremental() %}
where created_at >= (
    select coalesce(
        {{ dbt.dateadd('day', -1 * var('transactions_lookback_days'), 'max(created_at)') }},
        cast('1970-01-01' as {{ dbt.type_timestamp() }})
    )
    from {{ this }}
)
{% endif %}
