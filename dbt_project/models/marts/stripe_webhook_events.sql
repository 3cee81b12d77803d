-- StripeWebhookEvent: the webhook inbox (without payloads), with the project it concerns.
-- Events without an account are the platform's own.

select
    cast(events.webhook_event_id as {{ dbt.type_string() }}) as webhook_event_id,
    cast(coalesce(accounts.project_id, '{{ var("platform_project_id") }}') as {{ dbt.type_string() }}) as project_id,
    cast(events.stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(events.event_type as {{ dbt.type_string() }}) as event_type,
    cast(events.is_livemode as {{ dbt.type_boolean() }}) as is_livemode,
    cast(events.event_created_at as {{ dbt.type_timestamp() }}) as event_created_at,
    cast(events.payload_hash as {{ dbt.type_string() }}) as payload_hash,
    cast(events.received_at as {{ dbt.type_timestamp() }}) as received_at,
    cast(events.processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(events.status as {{ dbt.type_string() }}) as status
from {{ ref('stg_ops__stripe_webhook_events') }} as events
left join {{ ref('int_stripe_accounts_attributed') }} as accounts
    on events.stripe_account_id = accounts.stripe_account_id
