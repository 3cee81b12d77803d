-- A failed charge still moves money (Stripe nets a failed bank debit to zero with its
-- payment_failure_refund: docs.stripe.com/reports/balance-transaction-types). Usually the
-- failure has not landed yet; one account's odd data must not stop every build, so this warns
-- and lists the rows (marts.data_warnings).
{{ config(severity='warn', store_failures=true) }}

select *
from {{ ref('data_warnings') }}
where check_name = 'failed_charge_moved_money'
