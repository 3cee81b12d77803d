-- The latest sync of each account as the Dagster ingestion records it: the `stripe_sync` row of
-- ops.connector_sync_state, whose cursor JSON is described in docs/architecture.md ("Sync runs").

with

sync_state as (

    select * from {{ ref('stg_ops__connector_sync_state') }}
    where source = 'stripe_sync'

)

select
    project_id,
    stripe_account_id,
    {{ json_text('cursor_json', 'run_id') }} as run_id,
    {{ json_text('cursor_json', 'trigger') }} as sync_trigger,
    {{ json_text('cursor_json', 'status') }} as sync_status,
    {{ iso_to_utc_timestamp(json_text('cursor_json', 'started_at')) }} as started_at,
    {{ iso_to_utc_timestamp(json_text('cursor_json', 'finished_at')) }} as finished_at,
    {{ iso_to_utc_timestamp(json_text('cursor_json', 'last_succeeded_at')) }} as last_succeeded_at,
    {{ json_text('cursor_json', 'error') }} as error_message,
    {{ json_object_values_sum('cursor_json', 'rows') }} as rows_landed,
    cursor_json,
    updated_at
from sync_state
