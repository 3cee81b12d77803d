-- ConnectorSyncState: the pipeline's cursor per project, account and source (resource).

select
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(cursor_json as {{ dbt.type_string() }}) as cursor_json,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at
from {{ ref('stg_ops__connector_sync_state') }}
