-- Money per UTC day, project, source and currency, from transactions, by money class
-- (macros/money_classification.sql, docs/money.md). Amounts are signed as they move the
-- balance, so on every row
--     net_amount = gross_amount + refund_amount + dispute_amount + adjustment_amount - fee_amount
-- whatever the types: every row's amount is in exactly one of the four buckets, or (fees not
-- tied to a payment, money class `fee`) counted as a fee, and every row's fee is a fee.
--   gross_amount       revenue: charges and bank debits (also those that later failed),
--                      platform earnings, less released partial captures
--   refund_amount      refunds, failed refunds coming back, and failed bank debits: a debit
--                      that fails nets to zero with its payment over their two rows
--   dispute_amount     dispute withdrawals (negative) and reversals (positive)
--   adjustment_amount  other balance movements, and types the contract does not know yet
--   fee_amount         fees on every row, plus Stripe fees billed on their own
-- Declined charges (no balance transaction) move nothing: they are counted, not summed.
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
    cast(sum(case when money_class = 'revenue' then amount else 0 end) as {{ dbt.type_bigint() }}) as gross_amount,
    cast(sum(case when money_class in ('refund', 'bank_debit_failure') then amount else 0 end) as {{ dbt.type_bigint() }}) as refund_amount,
    cast(sum(case when money_class = 'dispute' then amount else 0 end) as {{ dbt.type_bigint() }}) as dispute_amount,
    cast(sum(case when money_class in ('adjustment', 'unclassified') then amount else 0 end) as {{ dbt.type_bigint() }}) as adjustment_amount,
    cast(sum(
        case
            when money_class = 'declined' then 0
            when money_class = 'fee' then fee_amount - amount
            else fee_amount
        end
    ) as {{ dbt.type_bigint() }}) as fee_amount,
    cast(sum(case when money_class = 'declined' then 0 else net_amount end) as {{ dbt.type_bigint() }}) as net_amount,
    cast(sum(case when type = 'charge' and money_class = 'revenue' and amount > 0 then 1 else 0 end) as {{ dbt.type_bigint() }}) as charge_count,
    cast(sum(case when money_class = 'declined' or money_class = 'bank_debit_failure' then 1 else 0 end) as {{ dbt.type_bigint() }}) as failed_charge_count,
    cast(count(*) as {{ dbt.type_bigint() }}) as transaction_count
from transactions
group by 1, 2, 3, 4
