-- One row per payout, with the balance transactions it settled, as Stripe's payout
-- reconciliation report pairs them (docs.stripe.com/reports/payout-reconciliation): for an
-- automatic payout, GET /v1/balance_transactions?payout= lists what it paid out, its own
-- `payout` transaction included. transactions_net leaves that one out, so for a paid automatic
-- payout transactions_net = amount. reconciled: that equality, for paid automatic payouts whose
-- transactions have landed; null for the others (manual payouts have no such list, an open or
-- failed payout settles nothing yet).

with

payouts as (

    select * from {{ ref('stg_stripe__payouts') }}
    where not is_deleted

),

links as (

    select * from {{ ref('stg_stripe__payout_balance_transactions') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

settled as (

    select
        links.stripe_account_id,
        links.payout_id,
        count(*) as transactions_count,
        sum(balance_transactions.net) as transactions_net,
        sum(case when balance_transactions.balance_transaction_id is null then 1 else 0 end) as missing_count
    from links
    inner join payouts
        on links.stripe_account_id = payouts.stripe_account_id
        and links.payout_id = payouts.payout_id
    left join balance_transactions
        on links.stripe_account_id = balance_transactions.stripe_account_id
        and links.balance_transaction_id = balance_transactions.balance_transaction_id
    -- The payout's own balance transaction is the money leaving, not what it settled.
    where links.balance_transaction_id <> coalesce(payouts.balance_transaction_id, '')
        and coalesce(balance_transactions.source_id, '') <> payouts.payout_id
    group by links.stripe_account_id, links.payout_id

)

select
    cast(payouts.stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(payouts.payout_id as {{ dbt.type_string() }}) as payout_id,
    cast(payouts.amount as {{ dbt.type_bigint() }}) as amount,
    cast(payouts.currency as {{ dbt.type_string() }}) as currency,
    cast(payouts.status as {{ dbt.type_string() }}) as status,
    cast(payouts.arrival_date as {{ dbt.type_timestamp() }}) as arrival_date,
    cast(payouts.is_automatic as boolean) as automatic,
    cast(payouts.method as {{ dbt.type_string() }}) as method,
    cast(payouts.failure_code as {{ dbt.type_string() }}) as failure_code,
    cast(coalesce(settled.transactions_count, 0) as {{ dbt.type_bigint() }}) as transactions_count,
    cast(settled.transactions_net as {{ dbt.type_bigint() }}) as transactions_net,
    cast(
        case
            when payouts.status = 'paid' and payouts.is_automatic and settled.transactions_count > 0
                then settled.missing_count = 0 and settled.transactions_net = payouts.amount
        end as boolean
    ) as reconciled,
    cast(payouts.created_at as {{ dbt.type_timestamp() }}) as created_at
from payouts
left join settled
    on payouts.stripe_account_id = settled.stripe_account_id
    and payouts.payout_id = settled.payout_id
