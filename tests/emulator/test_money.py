"""The generated account's money, read through the stripe SDK as a pipeline reads Stripe:
every balance-transaction type with its reporting category, bank debits, automatic payouts and
their reconciliation, the balance, Connect application fees and invoice payments. Each test
names the Stripe document it encodes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from stripe_emulator.testing import EmulatorHandle, run_emulator
from tests.emulator.helpers import get

DAY = 86_400

# https://docs.stripe.com/reports/reporting-categories: the category of each generated type.
CATEGORIES = {
    "charge": {"charge"},
    "payment": {"charge"},
    "refund": {"refund"},
    "payment_refund": {"refund"},
    "payment_failure_refund": {"charge_failure"},
    "adjustment": {"dispute", "dispute_reversal", "refund_failure", "other_adjustment"},
    "stripe_fee": {"fee"},
    "payout": {"payout"},
    "payout_failure": {"payout_reversal"},
    "application_fee": {"platform_earning"},
}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    # Account 0 (the platform) settles in USD (ACH), account 1 in EUR (SEPA), account 2 in GBP.
    # The history ends today, so recent payments are still pending and events are listed.
    with run_emulator(seed=7, accounts=2, charges=600) as handle:
        yield handle


def every(emu: EmulatorHandle, path: str, account: str | None = None, **params: Any) -> list:
    client = emu.client(stripe_account=account)
    resource = {
        "balance_transactions": client.v1.balance_transactions,
        "charges": client.v1.charges,
        "payouts": client.v1.payouts,
        "refunds": client.v1.refunds,
        "application_fees": client.v1.application_fees,
        "invoice_payments": client.v1.invoice_payments,
        "events": client.v1.events,
        "invoices": client.v1.invoices,
    }[path]
    return list(resource.list({"limit": 100, **params}).auto_paging_iter())


def accounts(emu: EmulatorHandle) -> list[str | None]:
    return [None, *emu.connected_account_ids]


def test_every_generated_type_has_stripes_reporting_category(emu):
    seen: Counter[str] = Counter()
    for account in accounts(emu):
        for bt in every(emu, "balance_transactions", account):
            assert bt.reporting_category in CATEGORIES[bt.type], (bt.type, bt.reporting_category)
            assert bt.net == bt.amount - bt.fee
            assert bt.fee == sum(f.amount for f in bt.fee_details)
            seen[bt.type] += 1
    assert set(seen) == set(CATEGORIES), f"not generated: {set(CATEGORIES) - set(seen)}"
    # Realistic shares: card charges dominate; the rest are a few percent or less.
    payments = seen["charge"] + seen["payment"]
    assert seen["charge"] / payments > 0.85
    assert seen["payment_failure_refund"] < seen["payment"] / 4


def test_status_is_pending_until_available_on_on_the_emulators_clock(emu):
    # https://docs.stripe.com/payments/balances: funds are pending until `available_on`.
    now = emu.store.now()
    bts = every(emu, "balance_transactions", created={"gte": now - 10 * DAY})
    for bt in bts:
        assert bt.status == ("available" if bt.available_on <= now else "pending")
    pending = [bt for bt in bts if bt.status == "pending"]
    assert pending
    target = pending[0]
    emu.store.clock_offset = target.available_on - now + 1
    try:
        moved = emu.client().v1.balance_transactions.retrieve(target.id)
        assert moved.status == "available"
    finally:
        emu.store.clock_offset = 0


def test_balance_is_the_net_of_balance_transactions_by_status(emu):
    # https://docs.stripe.com/payments/balances: available and pending, per currency.
    for account in accounts(emu):
        client = emu.client(stripe_account=account)
        balance = client.v1.balance.retrieve()
        now = emu.store.now()
        available: Counter[str] = Counter()
        pending: Counter[str] = Counter()
        for bt in every(emu, "balance_transactions", account):
            (available if bt.available_on <= now else pending)[bt.currency] += bt.net
        currencies = {a.currency for a in balance.available}
        assert currencies == {p.currency for p in balance.pending} == set(available) | set(pending)
        assert {a.currency: a.amount for a in balance.available} == {
            c: available[c] for c in currencies
        }
        assert {p.currency: p.amount for p in balance.pending} == {
            c: pending[c] for c in currencies
        }


def test_bank_debits_are_pending_for_days_then_succeed_or_fail(emu):
    # https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment and
    # https://docs.stripe.com/payments/sepa-debit: delayed notification; a returned debit is a
    # failed charge with a payment_failure_refund that reverses the payment.
    methods: Counter[str] = Counter()
    for account in accounts(emu):
        client = emu.client(stripe_account=account)
        for charge in every(emu, "charges", account, expand=["data.balance_transaction"]):
            method = charge.payment_method_details.type
            if method == "card":
                continue
            methods[method, charge.status] += 1
            bt = charge.balance_transaction
            assert bt.type == "payment" and bt.reporting_category == "charge"
            days = {"us_bank_account": 4, "sepa_debit": 7}[method]
            assert bt.available_on >= charge.created + days * DAY - DAY
            if charge.status == "pending":
                assert bt.status == "pending" and not charge.paid
            elif charge.status == "failed":
                failure = client.v1.balance_transactions.retrieve(
                    charge.failure_balance_transaction
                )
                assert failure.type == "payment_failure_refund"
                assert failure.reporting_category == "charge_failure"
                assert failure.amount == -bt.amount and failure.net == -bt.net
                assert failure.source == charge.id
                assert charge.failure_code
                by_source = every(emu, "balance_transactions", account, source=charge.id)
                assert sum(b.net for b in by_source) == 0
    assert {m for m, _ in methods} == {"us_bank_account", "sepa_debit"}
    assert {s for _, s in methods} >= {"succeeded", "failed"}


def test_bank_debit_events_are_pending_then_the_outcome(emu):
    # charge.pending at confirmation, then charge.succeeded or charge.failed.
    outcomes: Counter[str] = Counter()
    for account in accounts(emu):
        types = ["charge.pending", "charge.succeeded", "charge.failed"]
        by_charge: dict[str, list[str]] = {}
        for event in every(emu, "events", account, types=types):
            by_charge.setdefault(event.data.object.id, []).append(event.type)
        for charge_id, seen in by_charge.items():
            if "charge.pending" not in seen:
                continue
            charge = emu.client(stripe_account=account).v1.charges.retrieve(charge_id)
            assert charge.payment_method_details.type in ("us_bank_account", "sepa_debit")
            expected = {"pending": [], "succeeded": ["charge.succeeded"]}.get(
                charge.status, ["charge.failed"]
            )
            assert seen == [*expected, "charge.pending"]  # newest first
            outcomes[charge.status] += 1
    assert {"succeeded", "pending"} <= set(outcomes)


def test_each_paid_automatic_payout_reconciles_with_its_balance_transactions(emu):
    # https://docs.stripe.com/payouts/reconciliation: list balance transactions with
    # payout=po_...; for an automatic payout their net, its own payout one excluded, is its
    # amount.
    for account in accounts(emu):
        payouts = every(emu, "payouts", account)
        assert payouts and all(p.automatic for p in payouts)
        statuses = Counter(p.status for p in payouts)
        assert statuses["paid"] > 40
        for payout in payouts:
            settled = every(emu, "balance_transactions", account, payout=payout.id)
            own = [b for b in settled if b.id == payout.balance_transaction]
            assert len(own) == 1 and own[0].type == "payout" and own[0].amount == -payout.amount
            if payout.status == "paid":
                others = [b for b in settled if b.id != payout.balance_transaction]
                assert sum(b.net for b in others) == payout.amount


def test_failed_payouts_return_their_funds_with_a_payout_failure(emu):
    failed = [
        (account, p)
        for account in accounts(emu)
        for p in every(emu, "payouts", account, status="failed")
    ]
    assert failed
    for account, payout in failed:
        client = emu.client(stripe_account=account)
        failure = client.v1.balance_transactions.retrieve(payout.failure_balance_transaction)
        assert failure.type == "payout_failure" and failure.reporting_category == "payout_reversal"
        assert failure.amount == payout.amount and failure.source == payout.id
        assert payout.failure_code == "account_closed"
        events = every(emu, "events", account, type="payout.failed")
        assert payout.id in {e.data.object.id for e in events} or (
            payout.arrival_date < emu.store.event_floor()
        )


def test_payout_events(emu):
    types = {e.type for e in every(emu, "events", None, types=["payout.*"])}
    assert {"payout.created", "payout.paid"} <= types


def test_unknown_payout_is_a_404(emu):
    response = get(emu, "/v1/balance_transactions", {"payout": "po_nope"})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "payout"


def test_type_filter_lists_only_that_type(emu):
    for bt_type in ("stripe_fee", "payout", "adjustment", "payment"):
        bts = every(emu, "balance_transactions", None, type=bt_type)
        assert bts and all(b.type == bt_type for b in bts)


def test_stripe_fees_belong_to_no_payment(emu):
    fees = every(emu, "balance_transactions", None, type="stripe_fee")
    assert all(f.source is None and f.amount < 0 and f.fee == 0 for f in fees)
    assert len(fees) == 60  # one a day over the 60 generated days


def test_failed_refunds_are_credited_back_as_refund_failure(emu):
    # https://docs.stripe.com/reports/reporting-categories: failed refunds are adjustments in
    # category refund_failure.
    failed = [
        (account, r)
        for account in accounts(emu)
        for r in every(emu, "refunds", account)
        if r.status == "failed"
    ]
    assert failed
    for account, refund in failed:
        client = emu.client(stripe_account=account)
        credit = client.v1.balance_transactions.retrieve(refund.failure_balance_transaction)
        debit = client.v1.balance_transactions.retrieve(refund.balance_transaction)
        assert credit.type == "adjustment" and credit.reporting_category == "refund_failure"
        assert credit.amount == -debit.amount and credit.source == refund.id
        assert client.v1.charges.retrieve(refund.charge).amount_refunded == 0


def test_connected_charges_pay_the_platform_an_application_fee(emu):
    # https://docs.stripe.com/connect/direct-charges#collect-fees
    account = emu.connected_account_ids[0]
    charges = every(emu, "charges", account, expand=["data.balance_transaction"])
    with_fee = [c for c in charges if c.application_fee_amount]
    assert with_fee and all(c.payment_method_details.type == "card" for c in with_fee)
    platform_fees = {f.id: f for f in every(emu, "application_fees")}
    for charge in with_fee:
        kinds = {d.type: d.amount for d in charge.balance_transaction.fee_details}
        assert "application_fee" in kinds and "stripe_fee" in kinds
        fee = platform_fees[charge.application_fee]
        assert fee.charge == charge.id and fee.account == account
        assert fee.amount == charge.application_fee_amount
        platform_bt = emu.client().v1.balance_transactions.retrieve(fee.balance_transaction)
        assert platform_bt.type == "application_fee"
        assert platform_bt.reporting_category == "platform_earning"
        assert platform_bt.source == fee.id
    # the platform's own charges carry none
    assert not any(c.application_fee_amount for c in every(emu, "charges"))


def test_invoice_payments_link_invoices_to_payment_intents(emu):
    # https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices:
    # charges carry no invoice; an invoice's payments are InvoicePayment objects.
    client = emu.client()
    invoices = every(emu, "invoices")[:20]
    assert invoices
    for invoice in invoices:
        payments = every(emu, "invoice_payments", invoice=invoice.id)
        assert len(payments) == 1 and payments[0].is_default
        payment = payments[0]
        assert payment.payment.type == "payment_intent"
        assert payment.status == ("paid" if invoice.status == "paid" else "open")
        by_intent = every(
            emu,
            "invoice_payments",
            payment={"type": "payment_intent", "payment_intent": payment.payment.payment_intent},
        )
        assert [p.id for p in by_intent] == [payment.id]
        expanded = client.v1.invoices.retrieve(invoice.id, {"expand": ["payments"]})
        assert [p.id for p in expanded.payments.data] == [payment.id]
        # subscription invoices: the line names its price (pricing.price_details at basil+)
        # and the subscription the invoice bills
        line = invoice.lines.data[0]
        assert line.pricing.price_details.price.startswith("price_")
        assert line.parent.type == "subscription_item_details"
        assert invoice.parent.subscription_details.subscription == line.subscription
        intent = client.v1.payment_intents.retrieve(payment.payment.payment_intent)
        assert intent.amount == payment.amount_requested


def test_payouts_filter_by_status_and_arrival_date(emu):
    # https://docs.stripe.com/api/payouts/list: status and arrival_date filters.
    every_payout = every(emu, "payouts")
    cut = sorted(p.arrival_date for p in every_payout)[len(every_payout) // 2]
    late = every(emu, "payouts", arrival_date={"gte": cut})
    assert late and {p.id for p in late} == {p.id for p in every_payout if p.arrival_date >= cut}
    paid = every(emu, "payouts", status="paid")
    assert paid and all(p.status == "paid" for p in paid)


def test_an_accounts_history_is_the_same_whether_it_starts_connected_or_connects_later() -> None:
    # Stripe never rewrites past charges, fees or payouts when an account connects to a
    # platform (https://docs.stripe.com/connect/oauth-standard-accounts). The demo's first run
    # connects its accounts through OAuth and a rerun starts them connected: both must serve the
    # history the first run landed, or paid payouts stop reconciling with their transactions.
    def history(connected: int, unconnected: int) -> dict[str, list[tuple[str, int]]]:
        with run_emulator(
            seed=11, accounts=connected, unconnected_accounts=unconnected, charges=150
        ) as handle:
            ids = sorted(a for a in handle.store.accounts if a != handle.store.platform_id)
            for account_id in ids:
                handle.store.connect(account_id)
            return {
                str(account): [
                    (bt.id, bt.net) for bt in every(handle, "balance_transactions", account)
                ]
                + [(po.id, po.amount) for po in every(handle, "payouts", account)]
                for account in [None, *ids]
            }

    later = history(connected=0, unconnected=2)
    assert later == history(connected=2, unconnected=0)
    assert all(later.values())
