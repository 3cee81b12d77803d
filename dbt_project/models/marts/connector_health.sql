-- One row per Stripe account: is its data flowing? status, in order of precedence:
--   disconnected  the account was disconnected (ops store)
--   failing       its latest sync failed (the `stripe_sync` state, or a sync request that
--                 failed after the last success)
--   stale         no successful sync, or none in var('connector_stale_after_hours') hours
--   connected     otherwise (a sync running now keeps the status its last success earned)
-- rows_in_last_sync: the rows the latest sync landed (its state's `rows`; without one, the
-- landed rows of the account's newest dlt load). events_lag_seconds: how long the oldest
-- webhook event not yet processed has waited (0 when none waits). skipped_webhook_events: events
-- the inbox sensor set aside because the account was disconnected (or never connected).
-- data_warnings: the account's rows in marts.data_warnings (unexpected data that warns instead
-- of failing the build).
-- Evaluated at build time (evaluated_at), so it is as fresh as the last dbt run.

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

sync_requests as (

    select * from {{ ref('stg_ops__sync_requests') }}

),

sync_runs as (

    select * from {{ ref('int_connector_sync_runs') }}

),

successful_syncs as (

    select stripe_account_id, updated_at as synced_at
    from sync_requests
    where status = 'succeeded'
    union all
    select stripe_account_id, last_succeeded_at as synced_at
    from sync_runs
    where last_succeeded_at is not null

),

last_success as (

    select stripe_account_id, max(synced_at) as last_successful_sync_at
    from successful_syncs
    group by stripe_account_id

),

failures as (

    select stripe_account_id, updated_at as failed_at, error_message
    from sync_requests
    where status = 'failed'
    union all
    select stripe_account_id, coalesce(finished_at, updated_at) as failed_at, error_message
    from sync_runs
    where sync_status = 'failed'

),

failures_ranked as (

    select
        stripe_account_id,
        failed_at,
        error_message,
        row_number() over (partition by stripe_account_id order by failed_at desc, error_message) as recency
    from failures

),

latest_sync as (

    select
        stripe_account_id,
        sync_status,
        rows_landed,
        row_number() over (partition by stripe_account_id order by updated_at desc) as recency
    from sync_runs

),

last_failure as (

    select stripe_account_id, failed_at as last_failed_sync_at, error_message as last_error
    from failures_ranked
    where recency = 1

),

landed_loads as (

    {%- set landed = ['balance_transactions', 'charges', 'refunds', 'disputes', 'payment_intents', 'products', 'prices', 'invoices', 'invoice_line_items', 'events'] %}
    {%- for table in landed %}
    select stripe_account_id, dlt_load_id from {{ ref('stg_stripe__' ~ table) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

newest_load as (

    select stripe_account_id, max(dlt_load_id) as dlt_load_id
    from landed_loads
    group by stripe_account_id

),

rows_in_newest_load as (

    select landed_loads.stripe_account_id, count(*) as row_count
    from landed_loads
    inner join newest_load
        on landed_loads.stripe_account_id = newest_load.stripe_account_id
        and landed_loads.dlt_load_id = newest_load.dlt_load_id
    group by landed_loads.stripe_account_id

),

webhooks as (

    select
        stripe_account_id,
        max(received_at) as last_webhook_received_at,
        min(case when status = 'received' then received_at end) as oldest_pending_received_at,
        sum(case when status = 'received' then 1 else 0 end) as pending_webhook_events,
        sum(case when status = 'failed' then 1 else 0 end) as failed_webhook_events,
        sum(case when status = 'skipped' then 1 else 0 end) as skipped_webhook_events
    from {{ ref('stg_ops__stripe_webhook_events') }}
    group by stripe_account_id

),

warnings as (

    select stripe_account_id, count(*) as data_warnings
    from {{ ref('data_warnings') }}
    group by stripe_account_id

),

landed_events as (

    select stripe_account_id, max(created_at) as last_event_created_at
    from {{ ref('stg_stripe__events') }}
    group by stripe_account_id

),

joined as (

    select
        accounts.stripe_account_id,
        accounts.project_id,
        accounts.connection_status,
        last_success.last_successful_sync_at,
        last_failure.last_failed_sync_at,
        last_failure.last_error,
        latest_sync.sync_status,
        coalesce(latest_sync.rows_landed, rows_in_newest_load.row_count) as rows_in_last_sync,
        landed_events.last_event_created_at,
        webhooks.last_webhook_received_at,
        coalesce(webhooks.pending_webhook_events, 0) as pending_webhook_events,
        coalesce(webhooks.failed_webhook_events, 0) as failed_webhook_events,
        coalesce(warnings.data_warnings, 0) as data_warnings,
        coalesce(webhooks.skipped_webhook_events, 0) as skipped_webhook_events,
        case
            when webhooks.oldest_pending_received_at is null then 0
            else {{ seconds_between('webhooks.oldest_pending_received_at', utc_now()) }}
        end as events_lag_seconds,
        {{ utc_now() }} as evaluated_at
    from accounts
    left join last_success
        on accounts.stripe_account_id = last_success.stripe_account_id
    left join last_failure
        on accounts.stripe_account_id = last_failure.stripe_account_id
    left join latest_sync
        on accounts.stripe_account_id = latest_sync.stripe_account_id
        and latest_sync.recency = 1
    left join rows_in_newest_load
        on accounts.stripe_account_id = rows_in_newest_load.stripe_account_id
    left join webhooks
        on accounts.stripe_account_id = webhooks.stripe_account_id
    left join landed_events
        on accounts.stripe_account_id = landed_events.stripe_account_id
    left join warnings
        on accounts.stripe_account_id = warnings.stripe_account_id

)

select
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(
        case
            when connection_status = 'disconnected' then 'disconnected'
            when sync_status = 'failed' then 'failing'
            when last_failed_sync_at is not null
                and (last_successful_sync_at is null or last_failed_sync_at > last_successful_sync_at) then 'failing'
            when last_successful_sync_at is null
                or last_successful_sync_at < {{ dbt.dateadd('hour', -1 * var('connector_stale_after_hours'), 'evaluated_at') }}
                then 'stale'
            else 'connected'
        end as {{ dbt.type_string() }}
    ) as status,
    cast(last_successful_sync_at as {{ dbt.type_timestamp() }}) as last_successful_sync_at,
    cast(rows_in_last_sync as {{ dbt.type_bigint() }}) as rows_in_last_sync,
    cast(last_failed_sync_at as {{ dbt.type_timestamp() }}) as last_failed_sync_at,
    cast(last_error as {{ dbt.type_string() }}) as last_error,
    cast(last_event_created_at as {{ dbt.type_timestamp() }}) as last_event_created_at,
    cast(last_webhook_received_at as {{ dbt.type_timestamp() }}) as last_webhook_received_at,
    cast(pending_webhook_events as {{ dbt.type_bigint() }}) as pending_webhook_events,
    cast(failed_webhook_events as {{ dbt.type_bigint() }}) as failed_webhook_events,
    cast(data_warnings as {{ dbt.type_bigint() }}) as data_warnings,
    cast(skipped_webhook_events as {{ dbt.type_bigint() }}) as skipped_webhook_events,
    cast(events_lag_seconds as {{ dbt.type_bigint() }}) as events_lag_seconds,
    cast(evaluated_at as {{ dbt.type_timestamp() }}) as evaluated_at
from joined
