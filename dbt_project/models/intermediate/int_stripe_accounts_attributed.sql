-- Every Stripe account the warehouse knows of, with the project its money belongs to.
-- Connected accounts carry their project in the ops store; an account that appears only in the
-- landed data is the platform's own (Connect off, or the platform's direct charges) and belongs
-- to var('platform_project_id').

with

ops_accounts as (

    select * from {{ ref('stg_ops__stripe_accounts') }}

),

landed_accounts as (

    select stripe_account_id from {{ ref('stg_stripe__balance_transactions') }}
    union
    select stripe_account_id from {{ ref('stg_stripe__charges') }}
    union
    select stripe_account_id from {{ ref('stg_stripe__payment_intents') }}
    union
    select stripe_account_id from {{ ref('stg_stripe__products') }}
    union
    select stripe_account_id from {{ ref('stg_stripe__prices') }}
    union
    select stripe_account_id from {{ ref('stg_stripe__events') }}

),

all_accounts as (

    select stripe_account_id from ops_accounts
    union
    select stripe_account_id from landed_accounts

)

select
    all_accounts.stripe_account_id,
    coalesce(ops_accounts.project_id, '{{ var("platform_project_id") }}') as project_id,
    ops_accounts.stripe_account_id is null as is_platform_account,
    coalesce(ops_accounts.status, 'connected') as connection_status,
    ops_accounts.is_livemode,
    ops_accounts.scope,
    ops_accounts.created_at,
    ops_accounts.updated_at
from all_accounts
left join ops_accounts
    on all_accounts.stripe_account_id = ops_accounts.stripe_account_id
where all_accounts.stripe_account_id is not null
