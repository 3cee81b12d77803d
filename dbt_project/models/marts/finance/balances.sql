-- Per account, currency and UTC day: the Stripe balance at the end of the day, split into
-- available and pending as Stripe's "Balances and settlement time" describes it
-- (docs.stripe.com/payments/balances): a balance transaction's net is pending from its
-- `created` until its `available_on`, then available. Payouts and every other type count, so
-- the sum is the account's balance. One row per day on which the balance changed, and today:
-- today's row reads each transaction's current `status` as last synced (the source lists
-- pending ones again until they settle), so it equals GET /v1/balance at that sync.

with

balance_transactions as (

    select
        stripe_account_id,
        currency,
        net,
        status,
        cast({{ dbt.date_trunc('day', 'created_at') }} as date) as created_day,
        cast({{ dbt.date_trunc('day', 'coalesce(available_on, created_at)') }} as date) as available_day
    from {{ ref('stg_stripe__balance_transactions') }}

),

today as (

    select cast({{ dbt.date_trunc('day', utc_now()) }} as date) as date_day

),

movements as (

    select stripe_account_id, currency, created_day as date_day, net as total_delta, 0 as available_delta
    from balance_transactions
    union all
    select
        stripe_account_id,
        currency,
        case when available_day > created_day then available_day else created_day end as date_day,
        0 as total_delta,
        net as available_delta
    from balance_transactions

),

daily as (

    select
        stripe_account_id,
        currency,
        date_day,
        sum(total_delta) as total_delta,
        sum(available_delta) as available_delta
    from movements
    group by stripe_account_id, currency, date_day

),

running as (

    select
        stripe_account_id,
        currency,
        date_day,
        sum(total_delta) over (
            partition by stripe_account_id, currency order by date_day rows unbounded preceding
        ) as total_amount,
        sum(available_delta) over (
            partition by stripe_account_id, currency order by date_day rows unbounded preceding
        ) as available_amount
    from daily

),

past_days as (

    select
        running.stripe_account_id,
        running.currency,
        running.date_day,
        running.available_amount,
        running.total_amount - running.available_amount as pending_amount,
        false as is_current
    from running
    cross join today
    where running.date_day < today.date_day

),

current_balance as (

    select
        balance_transactions.stripe_account_id,
        balance_transactions.currency,
        today.date_day,
        sum(case when balance_transactions.status = 'pending' then 0 else balance_transactions.net end) as available_amount,
        sum(case when balance_transactions.status = 'pending' then balance_transactions.net else 0 end) as pending_amount,
        true as is_current
    from balance_transactions
    cross join today
    group by balance_transactions.stripe_account_id, balance_transactions.currency, today.date_day

),

unioned as (

    select * from past_days
    union all
    select * from current_balance

)

select
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(date_day as date) as date_day,
    cast(available_amount as {{ dbt.type_bigint() }}) as available_amount,
    cast(pending_amount as {{ dbt.type_bigint() }}) as pending_amount,
    cast(is_current as boolean) as is_current
from unioned
