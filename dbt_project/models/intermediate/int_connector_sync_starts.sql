-- One row per sync start an account's `stripe_sync` state remembers: each `history` entry
-- (newest 50) and the latest start itself, once per run id.

with

sync_state as (

    select * from {{ ref('stg_ops__connector_sync_state') }}
    where source = 'stripe_sync'

),

history as (

    {{ select_json_array_elements('sync_state', 'sync_state', 'cursor_json', 'history', 'history_entry') }}

),

starts as (

    select
        project_id,
        stripe_account_id,
        {{ json_text('history_entry', 'run_id') }} as run_id,
        {{ json_text('history_entry', 'trigger') }} as sync_trigger,
        {{ iso_to_utc_timestamp(json_text('history_entry', 'started_at')) }} as started_at
    from history

    union all

    select
        project_id,
        stripe_account_id,
        {{ json_text('cursor_json', 'run_id') }} as run_id,
        {{ json_text('cursor_json', 'trigger') }} as sync_trigger,
        {{ iso_to_utc_timestamp(json_text('cursor_json', 'started_at')) }} as started_at
    from sync_state

)

select
    project_id,
    stripe_account_id,
    run_id,
    min(sync_trigger) as sync_trigger,
    min(started_at) as started_at
from starts
where run_id is not null
    and started_at is not null
group by project_id, stripe_account_id, run_id
