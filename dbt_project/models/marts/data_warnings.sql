-- Data that is unexpected but does not break the money: one row per finding. The build goes on
-- (the tests on this model warn, never fail), connector_health counts the findings per account,
-- and this table shows them. Only money that does not reconcile fails the build
-- (tests/assert_transactions_net_reconciles_with_balance_transactions.sql,
-- tests/assert_paid_automatic_payouts_reconcile.sql).
--   unclassified_balance_transaction  a type (or an adjustment's reporting category) the money
--                                     contract (docs/money.md) does not list: it is in
--                                     transactions as `unclassified` and counted as an adjustment
--   failed_charge_moved_money         a charge that failed while its balance transactions still
--                                     net to non-zero: a bank debit whose failure has not
--                                     landed yet, or data Stripe should not send

with

transactions as (

    select * from {{ ref('transactions') }}
    where source = 'stripe'

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

unclassified as (

    select
        stripe_account_id,
        'unclassified_balance_transaction' as check_name,
        balance_transaction_id as object_id,
        currency,
        amount,
        'balance transaction type ' || coalesce(balance_transaction_type, '(none)')
            || ' with reporting category ' || coalesce(reporting_category, '(none)')
            || ' is not in the money contract (docs/money.md); counted as an adjustment' as detail,
        created_at
    from transactions
    where money_class = 'unclassified'

),

failed_charges_with_money as (

    select
        transactions.stripe_account_id,
        'failed_charge_moved_money' as check_name,
        transactions.charge_id as object_id,
        transactions.currency,
        sum(transactions.net_amount) as amount,
        'the charge failed but its balance transactions net to '
            || cast(sum(transactions.net_amount) as {{ dbt.type_string() }}) || ' ' || transactions.currency
            || ' (a failed bank debit whose payment_failure_refund has not landed yet?)' as detail,
        max(transactions.created_at) as created_at
    from transactions
    inner join charges
        on transactions.stripe_account_id = charges.stripe_account_id
        and transactions.charge_id = charges.charge_id
    where charges.status = 'failed'
        and transactions.balance_transaction_id is not null
    group by transactions.stripe_account_id, transactions.charge_id, transactions.currency
    having sum(transactions.net_amount) <> 0

),

unioned as (

    select * from unclassified
    union all
    select * from failed_charges_with_money

)

select
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(check_name as {{ dbt.type_string() }}) as check_name,
    cast(object_id as {{ dbt.type_string() }}) as object_id,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(amount as {{ dbt.type_bigint() }}) as amount,
    cast(detail as {{ dbt.type_string() }}) as detail,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from unioned
