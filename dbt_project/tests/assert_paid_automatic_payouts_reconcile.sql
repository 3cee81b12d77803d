-- Every paid automatic payout whose settled balance transactions have landed pays out exactly
-- their net (docs.stripe.com/reports/payout-reconciliation), to the unit. A payout that does
-- not is money that does not reconcile: the build fails and the marts are not published.
-- Returns those payouts.

select stripe_account_id, payout_id, amount, transactions_count, transactions_net
from {{ ref('payouts') }}
where reconciled = false
