-- Per Stripe account and settlement currency, the net of the Stripe money movements in
-- marts.transactions equals the net of the landed balance transactions, to the unit, and so do
-- their counts. Money class `payout` (payouts, transfers, top-ups: docs/money.md) is left out on
-- both sides: it moves the balance, it is not a transaction. Every other type counts, an
-- unclassified one included. Read straight from the landed table (not staging or intermediate) so a bug
-- anywhere between the two shows here. Returns the accounts and currencies that disagree.

-- It reads the landed table too, so Dagster is told which asset it checks.
{{ config(meta={'dagster': {'ref': {'name': 'transactions'}}}) }}

with

landed as (

    select
        account_id as stripe_account_id,
        lower(currency) as currency,
        sum(net) as net_amount,
        count(*) as row_count
    from ({{ landed_source('stripe', 'balance_transactions') }}) as balance_transactions
    where {{ money_class('type', 'reporting_category') }} <> 'payout'
    group by account_id, lower(currency)

),

modelled as (

    select
        stripe_account_id,
        currency,
        sum(net_amount) as net_amount,
        count(*) as row_count
    from {{ ref('transactions') }}
    where source = 'stripe'
        and balance_transaction_id is not null
    group by stripe_account_id, currency

)

select
    coalesce(landed.stripe_account_id, modelled.stripe_account_id) as stripe_account_id,
    coalesce(landed.currency, modelled.currency) as currency,
    landed.net_amount as landed_net_amount,
    modelled.net_amount as transactions_net_amount,
    landed.row_count as landed_row_count,
    modelled.row_count as transactions_row_count
from landed
full outer join modelled
    on landed.stripe_account_id = modelled.stripe_account_id
    and landed.currency = modelled.currency
where landed.net_amount is distinct from modelled.net_amount
    or landed.row_count is distinct from modelled.row_count
