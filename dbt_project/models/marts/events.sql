-- The app's Event stream for Stripe: `stripe.sync.started` (each sync start the ingestion
-- recorded in its `stripe_sync` state, see int_connector_sync_starts),
-- `stripe.webhook.received` (each verified webhook in the inbox), `transaction.created`
-- (each row of transactions).

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

sync_started as (

    select
        'sync_run:' || starts.stripe_account_id || ':' || starts.run_id as event_id,
        'stripe.sync.started' as event_name,
        coalesce(starts.project_id, accounts.project_id, '{{ var("platform_project_id") }}') as project_id,
        starts.stripe_account_id,
        starts.run_id as subject_id,
        starts.started_at as occurred_at
    from {{ ref('int_connector_sync_starts') }} as starts
    left join accounts
        on starts.stripe_account_id = accounts.stripe_account_id

),

webhook_received as (

    select
        'webhook:' || webhook_event_id as event_id,
        'stripe.webhook.received' as event_name,
        project_id,
        stripe_account_id,
        webhook_event_id as subject_id,
        received_at as occurred_at
    from {{ ref('stripe_webhook_events') }}

),

transaction_created as (

    select
        'transaction:' || transaction_id as event_id,
        'transaction.created' as event_name,
        project_id,
        stripe_account_id,
        transaction_id as subject_id,
        created_at as occurred_at
    from {{ ref('transactions') }}

),

unioned as (

    select * from sync_started
    union all
    select * from webhook_received
    union all
    select * from transaction_created

)

select
    cast(event_id as {{ dbt.type_string() }}) as event_id,
    cast(event_name as {{ dbt.type_string() }}) as event_name,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(subject_id as {{ dbt.type_string() }}) as subject_id,
    cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at
from unioned
