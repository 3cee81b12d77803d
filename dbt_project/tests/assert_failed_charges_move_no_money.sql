-- A declined charge never reached the balance: its fee and net are zero, and it has no
-- balance transaction. Returns the failed Stripe rows that say otherwise.

select transaction_id, fee_amount, net_amount, balance_transaction_id
from {{ ref('transactions') }}
where source = 'stripe'
    and status = 'failed'
    and (fee_amount <> 0 or net_amount <> 0 or balance_transaction_id is not null)
