-- Money per UTC day, project, source and currency, from transactions. Amounts are signed as they
-- move the balance: refunds and disputes are negative, so
--     net_amount = gross_amount + refund_amount + dispute_amount + adjustment_amount - fee_amount.
-- Currencies are never added together: one row per currency.

with

transactions as (

    select * from {{ ref('transactions') }}

)

select
    cast({{ dbt.date_trunc('day', 'created_at') }} as date) as date_day,
    cast(project_id as {{ dbt.type_string() }}) as project_id,
    cast(source as {{ dbt.type_string() }}) as source,
    cast(currency as {{ dbt.type_string() }}) as currency,
    cast(sum(case when type = 'charge' and status <> 'failed' then amount else 0 end) as {{ dbt.type_bigint() }}) as gross_amount,
    cast(sum(case when type = 'refund' then amount else 0 end) as {{ dbt.type_bigint() }}) as refund_amount,
    cast(sum(case when type in ('dispute', 'dispute_reversal') then amount else 0 end) as {{ dbt.type_bigint() }}) as dispute_amount,
    cast(sum(case when type = 'adjustment' then amount else 0 end) as {{ dbt.type_bigint() }}) as adjustment_amount,
    cast(sum(fee_amount) as {{ dbt.type_bigint() }}) as fee_amount,
    cast(sum(net_amount) as {{ dbt.type_bigint() }}) as net_amount,
    cast(sum(case when type = 'charge' and status <> 'failed' then 1 else 0 end) as {{ dbt.type_bigint() }}) as charge_count,
    cast(sum(case when type = 'charge' and status = 'failed' then 1 else 0 end) as {{ dbt.type_bigint() }}) as failed_charge_count,
    cast(count(*) as {{ dbt.type_bigint() }}) as transaction_count
from transactions
group by 1, 2, 3, 4
