-- Every balance transaction with what moved the money: its transaction_type and money_class
-- (macros/money_classification.sql, the contract in docs/money.md), the charge it belongs to,
-- the current status of the source object, and the presentment amount and currency the
-- customer saw. source_load_id is the newest dlt load among the rows it is derived from, so
-- the incremental `transactions` re-derives it whenever any of them changed.
-- Amounts stay exactly as Stripe reports them: integer minor units of the settlement currency,
-- signed as they move the balance (refunds and dispute withdrawals are negative).

with

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

disputes as (

    select * from {{ ref('stg_stripe__disputes') }}

),

joined as (

    select
        balance_transactions.*,
        charges.charge_id as direct_charge_id,
        refunds.refund_id,
        disputes.dispute_id,
        coalesce(charges.charge_id, refunds.charge_id, disputes.charge_id) as charge_id,
        -- Positive amounts (charges, refund failures, dispute reversals) show the presentment
        -- amount as received, negative ones as given back.
        case when balance_transactions.amount < 0 then -1 else 1 end as direction,
        case
            when charges.charge_id is not null
                then case when charges.amount_captured > 0 then charges.amount_captured else charges.amount end
            when refunds.refund_id is not null then refunds.amount
            when disputes.dispute_id is not null then disputes.amount
        end as source_amount,
        coalesce(charges.currency, refunds.currency, disputes.currency) as source_currency,
        coalesce(charges.status, refunds.status, disputes.status) as source_status,
        {{ newest_load_id(['balance_transactions.dlt_load_id', 'charges.dlt_load_id',
            'refunds.dlt_load_id', 'disputes.dlt_load_id']) }} as source_load_id
    from balance_transactions
    left join charges
        on balance_transactions.stripe_account_id = charges.stripe_account_id
        and balance_transactions.source_id = charges.charge_id
    left join refunds
        on balance_transactions.stripe_account_id = refunds.stripe_account_id
        and balance_transactions.source_id = refunds.refund_id
    left join disputes
        on balance_transactions.stripe_account_id = disputes.stripe_account_id
        and balance_transactions.source_id = disputes.dispute_id

)

select
    balance_transaction_id,
    stripe_account_id,
    created_at,
    available_on,
    amount,
    fee,
    net,
    currency,
    exchange_rate,
    reporting_category,
    balance_transaction_type,
    source_id,
    status as balance_status,
    {{ transaction_type('balance_transaction_type', 'reporting_category') }} as transaction_type,
    {{ money_class('balance_transaction_type', 'reporting_category') }} as money_class,
    source_load_id,
    charge_id,
    refund_id,
    dispute_id,
    coalesce(source_status, status) as status,
    -- Without a source object or an exchange rate the customer saw the settlement amount.
    case
        when source_amount is not null then direction * source_amount
        when exchange_rate is null then amount
    end as presentment_amount,
    case
        when source_currency is not null then source_currency
        when exchange_rate is null then currency
    end as presentment_currency
from joined
