"""Money that changes after it landed, through the emulator, the source and the marts: a bank
debit credited as pending and returned by the bank between two incremental syncs, card payments
moving from pending to available, and the payouts made meanwhile.

Stripe's documents this encodes:
- docs.stripe.com/payments/ach-direct-debit/accept-a-payment: an ACH debit is `pending` for
  days; a returned one turns the charge `failed` and adds a `payment_failure_refund` balance
  transaction that gives back the amount and the fee, so the two rows net to zero;
- docs.stripe.com/payments/balances: a balance transaction is `pending` until its
  `available_on`, then `available`; GET /v1/balance sums them by status;
- docs.stripe.com/reports/payout-reconciliation: an automatic payout pays out the net of the
  balance transactions it settled (GET /v1/balance_transactions?payout=).

The emulator's clock moves eight days between the two syncs; the source is given that clock
(`clock=`), as it uses Stripe's (the wall clock) in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from stripe_pipeline.settings import Settings
from stripe_pipeline.stripe_source import sync_account
from tests.fixtures.transform import run_dbt

pytestmark = pytest.mark.slow

DAY = 86_400
# Seed 1's platform account (USD, ACH) has a debit pending now that the bank returns within
# eight days (the emulator decides it 4 days after the payment; 8 % are returned).
SEED, CHARGES = 1, 1500


def _query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _transactions(settings: Settings) -> list[tuple]:
    return _query(
        settings,
        "select * exclude (mapping_note, source_load_id) from marts.transactions order by all",
    )


def test_a_bank_debit_returned_between_two_syncs_and_pending_funds_settling_reach_the_marts(
    make_emulator: Any, tmp_path: Path
) -> None:
    emulator = make_emulator(seed=SEED, accounts=0, charges=CHARGES)
    store = emulator.store
    client = emulator.client()
    settings = Settings(
        stripe_client_secret=emulator.api_key,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
        data_dir=tmp_path,
        warehouse_path=tmp_path / "warehouse.duckdb",
        rate_limit=1000.0,
    )
    env = {"DBT_TARGET": "duckdb", "WAREHOUSE_PATH": str(settings.warehouse_path)}

    first = sync_account(settings, None, clock=store.now)
    assert first.complete
    pending_debits = _query(
        settings,
        "select c.id, c.balance_transaction from stripe.charges c "
        "where c.status = 'pending' and c.payment_method_type = 'us_bank_account'",
    )
    pending_bts = dict(
        _query(
            settings, "select id, status from stripe.balance_transactions where status = 'pending'"
        )
    )
    assert pending_debits and pending_bts
    assert all(bt in pending_bts for _, bt in pending_debits)
    built = run_dbt(["build"], env=env, work_dir=tmp_path)
    assert built.ok, built.output[-6000:]

    try:
        store.clock_offset = 8 * DAY
        returned = [
            (charge, bt)
            for charge, bt in pending_debits
            if client.v1.charges.retrieve(charge).status == "failed"
        ]
        assert returned, "the seed no longer returns a pending debit within eight days"
        charge_id, payment_bt = returned[0]

        second = sync_account(settings, None, clock=store.now)
        assert second.complete
        assert second.resources["balance_transactions"].pending_relisted

        # Every balance transaction pending at the first sync now has Stripe's current status.
        landed = dict(
            _query(
                settings,
                f"select id, status from stripe.balance_transactions where id in "
                f"({', '.join(repr(i) for i in pending_bts)})",
            )
        )
        assert landed == {i: client.v1.balance_transactions.retrieve(i).status for i in pending_bts}
        assert "available" in landed.values()

        # The returned debit: its charge failed, its payment_failure_refund landed.
        charge = client.v1.charges.retrieve(charge_id)
        failure = client.v1.balance_transactions.retrieve(charge.failure_balance_transaction)
        payment = client.v1.balance_transactions.retrieve(payment_bt)
        assert failure.type == "payment_failure_refund" and failure.net == -payment.net

        incremental = run_dbt(["build"], env=env, work_dir=tmp_path)
        assert incremental.ok, incremental.output[-6000:]
        rows = _query(
            settings,
            "select balance_transaction_id, type, money_class, status, net_amount "
            "from marts.transactions where charge_id = ? order by net_amount desc",
            [charge_id],
        )
        assert rows == [
            (payment_bt, "charge", "revenue", "failed", payment.net),
            (failure.id, "bank_debit_failure", "bank_debit_failure", "failed", -payment.net),
        ]
        assert not _query(
            settings, "select * from marts.data_warnings where object_id = ?", [charge_id]
        )

        # Today's balance (at the moved clock) is GET /v1/balance.
        balance = client.v1.balance.retrieve()
        expected = (
            {(b.currency, b.amount) for b in balance.available},
            {(b.currency, b.amount) for b in balance.pending},
        )
        current = _query(
            settings,
            "select currency, available_amount, pending_amount from marts.balances where is_current",
        )
        assert ({(c, a) for c, a, _ in current}, {(c, p) for c, _, p in current}) == expected

        # The payouts made meanwhile reconcile to what they settled.
        payouts = _query(
            settings,
            "select payout_id, amount, transactions_net, reconciled from marts.payouts "
            "where status = 'paid' and automatic",
        )
        made_meanwhile = list(client.v1.payouts.list({"limit": 100}).auto_paging_iter())
        assert payouts and len(payouts) == sum(
            p.status == "paid" and p.automatic for p in made_meanwhile
        )
        assert all(net == amount and ok for _, amount, net, ok in payouts)

        # The incremental marts equal a full rebuild.
        after_incremental = _transactions(settings)
        full = run_dbt(["build", "--full-refresh"], env=env, work_dir=tmp_path)
        assert full.ok, full.output[-6000:]
        assert _transactions(settings) == after_incremental
    finally:
        store.clock_offset = 0
