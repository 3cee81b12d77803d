-- StripeAccount: connected accounts from the ops store, plus the platform's own account(s)
-- seen only in the landed data (status `connected`, project var('platform_project_id')).

select
    cast(stripe_account_id as {{ dbt.type_string() }}) as stripe_account_id,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(is_platform_account as {{ dbt.type_boolean() }}) as is_platform_account,
    cast(connection_status as {{ dbt.type_string() }}) as status,
    cast(is_livemode as {{ dbt.type_boolean() }}) as is_livemode,
    cast(scope as {{ dbt.type_string() }}) as scope,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
    cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at
from {{ ref('int_stripe_accounts_attributed') }}
