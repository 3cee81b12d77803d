"""Money that settles over time, through the write API and the emulator's clock: bank debits
driven by Stripe's test account numbers, manual capture for less than authorized, refunds of
bank debits, funds becoming available, and automatic payouts as days pass. Each test moves
`store.clock_offset` forward on its own emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from stripe_emulator.testing import EmulatorHandle, run_emulator

DAY = 86_400
MANDATE = {"customer_acceptance": {"type": "offline"}}


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(seed=3, accounts=1, charges=60) as handle:
        yield handle


def _ach(client, account_number: str, amount: int = 5_000):
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "confirm": True,
            "payment_method_types": ["us_bank_account"],
            "payment_method_data": {
                "type": "us_bank_account",
                "us_bank_account": {
                    "routing_number": "110000000",
                    "account_number": account_number,
                    "account_holder_type": "individual",
                },
                "billing_details": {"name": "Jenny Rosen"},
            },
            "mandate_data": MANDATE,
        }
    )


def _sepa(client, iban: str, amount: int = 4_000):
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "eur",
            "confirm": True,
            "payment_method_types": ["sepa_debit"],
            "payment_method_data": {
                "type": "sepa_debit",
                "sepa_debit": {"iban": iban},
                "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
            },
            "mandate_data": MANDATE,
        }
    )


def _card(client, amount: int, **extra):
    return client.v1.payment_intents.create(
        {"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         **extra}
    )  # fmt: skip


def _advance(emu: EmulatorHandle, seconds: int) -> None:
    emu.store.clock_offset += seconds


def _event_types(client, object_id: str) -> list[str]:
    events = client.v1.events.list({"limit": 100}).auto_paging_iter()
    return [
        e.type for e in reversed(list(events)) if e.data.object.to_dict().get("id") == object_id
    ]


def test_ach_test_account_succeeds_after_four_days(emu):
    # https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment: 000123456789
    # succeeds; the payment is processing (charge pending) until the bank confirms.
    client = emu.client()
    intent = _ach(client, "000123456789")
    assert intent.status == "processing"
    charge = client.v1.charges.retrieve(intent.latest_charge, {"expand": ["balance_transaction"]})
    assert charge.status == "pending" and not charge.paid
    assert charge.payment_method_details.type == "us_bank_account"
    assert charge.payment_method_details.us_bank_account.last4 == "6789"
    txn = charge.balance_transaction
    assert (txn.type, txn.reporting_category, txn.status) == ("payment", "charge", "pending")
    assert txn.fee == 40  # 0.8 % of $50.00 (capped at $5)
    assert _event_types(client, charge.id) == ["charge.pending"]
    _advance(emu, 4 * DAY - 60)
    assert client.v1.charges.retrieve(charge.id).status == "pending"
    _advance(emu, 120)
    assert client.v1.charges.retrieve(charge.id).status == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    assert _event_types(client, charge.id) == ["charge.pending", "charge.succeeded"]
    assert client.v1.balance_transactions.retrieve(txn.id).status == "pending"
    _advance(emu, DAY)
    assert client.v1.balance_transactions.retrieve(txn.id).status == "available"


@pytest.mark.parametrize(
    ("account_number", "code"),
    [("000222222227", "insufficient_funds"), ("000111111113", "account_closed")],
)
def test_ach_test_account_fails_with_a_payment_failure_refund(emu, account_number, code):
    client = emu.client()
    intent = _ach(client, account_number)
    _advance(emu, 4 * DAY + 60)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.status == "failed" and charge.failure_code == code
    intent = client.v1.payment_intents.retrieve(intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == code
    payment = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    failure = client.v1.balance_transactions.retrieve(charge.failure_balance_transaction)
    assert failure.type == "payment_failure_refund"
    assert failure.reporting_category == "charge_failure"
    assert (failure.amount, failure.fee) == (-payment.amount, -payment.fee)
    both = client.v1.balance_transactions.list({"source": charge.id}).data
    assert {b.id for b in both} == {payment.id, failure.id} and sum(b.net for b in both) == 0
    assert _event_types(client, charge.id) == ["charge.pending", "charge.failed"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"charge": charge.id})


@pytest.mark.parametrize(
    ("iban", "outcome"),
    [("DE89370400440532013000", "succeeded"), ("DE62370400440532013001", "failed")],
)
def test_sepa_test_ibans_decide_after_seven_days(emu, iban, outcome):
    # https://docs.stripe.com/payments/sepa-debit: DE89...3000 succeeds, DE62...3001 fails.
    client = emu.client()
    intent = _sepa(client, iban)
    assert intent.status == "processing"
    _advance(emu, 7 * DAY - 60)
    assert client.v1.charges.retrieve(intent.latest_charge).status == "pending"
    _advance(emu, 120)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.status == outcome
    assert charge.payment_method_details.sepa_debit.last4 == iban[-4:]
    if outcome == "failed":
        assert charge.failure_code == "insufficient_funds"


def test_bank_debit_needs_its_currency_and_a_mandate(emu):
    client = emu.client()
    with pytest.raises(stripe.InvalidRequestError) as wrong:
        client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "usd",
                "confirm": True,
                "payment_method_data": {
                    "type": "sepa_debit",
                    "sepa_debit": {"iban": "DE89370400440532013000"},
                    "billing_details": {"name": "J", "email": "j@example.com"},
                },
                "mandate_data": MANDATE,
            }
        )
    assert wrong.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as no_mandate:
        client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "usd",
                "confirm": True,
                "payment_method_data": {
                    "type": "us_bank_account",
                    "us_bank_account": {
                        "routing_number": "110000000",
                        "account_number": "000123456789",
                    },
                },
            }
        )
    assert no_mandate.value.param == "mandate_data"


def test_refunding_a_cleared_bank_debit_is_a_payment_refund(emu):
    # https://docs.stripe.com/reports/balance-transaction-types: refunds of non-card payments
    # are payment_refund.
    client = emu.client()
    intent = _ach(client, "000123456789")
    _advance(emu, 4 * DAY + 60)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 2_000})
    txn = client.v1.balance_transactions.retrieve(refund.balance_transaction)
    assert (txn.type, txn.reporting_category, txn.amount) == ("payment_refund", "refund", -2_000)


def test_capturing_less_than_authorized_releases_the_rest(emu):
    # https://docs.stripe.com/payments/place-a-hold-on-a-payment-method and
    # https://docs.stripe.com/reports/reporting-categories (partial_capture_reversal).
    client = emu.client()
    intent = _card(client, 10_000, capture_method="manual")
    assert intent.status == "requires_capture" and intent.amount_capturable == 10_000
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.captured is False and charge.amount_captured == 0
    assert charge.balance_transaction is None
    intent = client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 7_500})
    assert intent.status == "succeeded" and intent.amount_received == 7_500
    charge = client.v1.charges.retrieve(intent.latest_charge, {"expand": ["refunds"]})
    assert charge.captured and charge.amount_captured == 7_500
    assert charge.amount_refunded == 2_500 and not charge.refunded
    assert [r.amount for r in charge.refunds.data] == [2_500]
    auth = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert (auth.type, auth.amount, auth.fee) == ("charge", 10_000, 248)  # fee on 75.00
    release = client.v1.balance_transactions.retrieve(charge.refunds.data[0].balance_transaction)
    assert (release.type, release.reporting_category) == ("refund", "partial_capture_reversal")
    assert release.amount == -2_500 and release.fee == 0
    assert auth.net + release.net == 7_500 - 248
    assert "charge.captured" in _event_types(client, charge.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.capture(intent.id)


def test_capture_beyond_the_authorization_is_refused(emu):
    client = emu.client()
    intent = _card(client, 1_000, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 1_001})
    assert err.value.param == "amount_to_capture"


def test_funds_become_available_with_a_balance_available_event(emu):
    # https://docs.stripe.com/payments/balances: card funds are pending for two days.
    client = emu.client()
    intent = _card(client, 3_000)
    txn_id = client.v1.charges.retrieve(intent.latest_charge).balance_transaction
    txn = client.v1.balance_transactions.retrieve(txn_id)
    assert txn.status == "pending"
    before = {b.currency: b.amount for b in client.v1.balance.retrieve().pending}
    _advance(emu, txn.available_on - emu.store.now() + 1)
    assert client.v1.balance_transactions.retrieve(txn_id).status == "available"
    events = client.v1.events.list({"type": "balance.available", "limit": 100}).data
    assert any(e.created == txn.available_on for e in events)
    after = {b.currency: b.amount for b in client.v1.balance.retrieve().pending}
    assert after["usd"] <= before["usd"] - txn.net


def test_payouts_go_on_as_days_pass_and_reconcile(emu):
    # https://docs.stripe.com/payouts/reconciliation: an automatic payout's balance
    # transactions (payout=po_...) net to its amount.
    client = emu.client()
    intent = _card(client, 20_000)
    txn_id = client.v1.charges.retrieve(intent.latest_charge).balance_transaction
    before = {p.id for p in client.v1.payouts.list({"limit": 100}).auto_paging_iter()}
    _advance(emu, 6 * DAY)
    payouts = [
        p for p in client.v1.payouts.list({"limit": 100}).auto_paging_iter() if p.id not in before
    ]
    assert payouts and all(p.automatic for p in payouts)
    settled_ids = set()
    for payout in payouts:
        settled = list(
            client.v1.balance_transactions.list(
                {"payout": payout.id, "limit": 100}
            ).auto_paging_iter()
        )
        own = [b for b in settled if b.id == payout.balance_transaction]
        assert own and own[0].type == "payout" and own[0].amount == -payout.amount
        others = [b for b in settled if b.id != payout.balance_transaction]
        assert sum(b.net for b in others) == payout.amount
        settled_ids |= {b.id for b in others}
        if payout.arrival_date <= emu.store.now():
            assert payout.status == "paid"
    assert txn_id in settled_ids  # the API-made charge was paid out
    types = {e.type for e in client.v1.events.list({"type": "payout.*", "limit": 100}).data}
    assert {"payout.created", "payout.paid"} <= types
    # everything available was paid out: the balance holds only what arrived since
    available = client.v1.balance.retrieve().available
    assert all(a.amount >= 0 for a in available)


def test_generated_funds_that_become_available_send_balance_available():
    # https://docs.stripe.com/api/events/types (balance.available): sent when pending funds
    # become available; payments made shortly before start-up are pending at start.
    with run_emulator(seed=3, accounts=0, charges=600) as handle:
        client = handle.client()
        now = handle.store.now()
        midnight = now - now % DAY + DAY
        arriving = [
            bt
            for bt in client.v1.balance_transactions.list(
                {"limit": 100, "created": {"gte": now - 10 * DAY}}
            ).auto_paging_iter()
            if bt.available_on == midnight
        ]
        assert arriving and sum(bt.net for bt in arriving) > 0
        assert not client.v1.events.list({"type": "balance.available"}).data
        _advance(handle, midnight - now + 1)
        events = client.v1.events.list({"type": "balance.available"}).data
        assert [e.created for e in events] == [midnight]
        balance = events[0].data.object
        available = {b.currency: b.amount for b in balance.available}
        assert available == {b.currency: b.amount for b in client.v1.balance.retrieve().available}
