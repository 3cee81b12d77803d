-- Payment intents per UTC day (of creation) and project: created, succeeded, failed (a payment
-- attempt was declined and the intent never succeeded), canceled, and the share that succeeded.

with

accounts as (

    select * from {{ ref('int_stripe_accounts_attributed') }}

),

payment_intents as (

    select
        payment_intents.*,
        coalesce({{ json_text('payment_intents.metadata', 'app_project_id') }}, accounts.project_id) as project_id
    from {{ ref('stg_stripe__payment_intents') }} as payment_intents
    left join accounts
        on payment_intents.stripe_account_id = accounts.stripe_account_id
    where not payment_intents.is_deleted

),

daily as (

    select
        cast({{ dbt.date_trunc('day', 'created_at') }} as date) as date_day,
        project_id,
        count(*) as created_count,
        sum(case when status = 'succeeded' then 1 else 0 end) as succeeded_count,
        sum(case when status <> 'succeeded' and last_payment_error_code is not null then 1 else 0 end) as failed_count,
        sum(case when status = 'canceled' then 1 else 0 end) as canceled_count
    from payment_intents
    group by 1, 2

)

select
    date_day,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(created_count as {{ dbt.type_bigint() }}) as payment_intents_created,
    cast(succeeded_count as {{ dbt.type_bigint() }}) as payment_intents_succeeded,
    cast(failed_count as {{ dbt.type_bigint() }}) as payment_intents_failed,
    cast(canceled_count as {{ dbt.type_bigint() }}) as payment_intents_canceled,
    cast(succeeded_count as double precision) / created_count as conversion_rate
from daily
