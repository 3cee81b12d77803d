"""Payments through the API follow Stripe's test mode: the fee on success, the decline's 402 and
its aftermath, refunds within the charge, disputes opening after the createDispute card and
closing through evidence, and conversion into the settlement currency."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from stripe_emulator import mutations


def _pay(client, amount=10_000, currency="usd", payment_method="pm_card_visa", **extra):
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "confirm": True,
            **extra,
        }
    )


def _types(client, object_id: str) -> list[str]:
    events = client.v1.events.list({"limit": 100}).data
    return [e.type for e in reversed(events) if e.data.object.to_dict().get("id") == object_id]


def test_visa_succeeds_with_a_charge_and_stripes_fee(emulator):
    client = emulator.client()
    intent = _pay(client)
    assert intent.status == "succeeded" and intent.amount_received == 10_000
    charge = client.v1.charges.retrieve(intent.latest_charge, {"expand": ["balance_transaction"]})
    txn = charge.balance_transaction
    assert charge.paid and charge.captured and charge.status == "succeeded"
    assert (txn.amount, txn.fee, txn.net) == (10_000, 320, 9_680)  # 2.9% + 30
    assert txn.type == "charge" and txn.reporting_category == "charge" and txn.exchange_rate is None
    assert _types(client, intent.id) == ["payment_intent.created", "payment_intent.succeeded"]
    assert _types(client, charge.id) == ["charge.succeeded"]


def test_declined_card_answers_402_and_leaves_no_balance_transaction(emulator):
    client = emulator.client()
    with pytest.raises(stripe.CardError) as raised:
        _pay(client, payment_method="pm_card_chargeDeclined")
    error = raised.value
    assert error.http_status == 402
    assert error.code == "card_declined"
    assert error.error.decline_code == "generic_decline"
    assert error.user_message == "Your card was declined."
    intent = client.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert (charge.status, charge.failure_code, charge.paid) == ("failed", "card_declined", False)
    assert charge.balance_transaction is None
    assert _types(client, intent.id)[-1] == "payment_intent.payment_failed"
    assert _types(client, charge.id) == ["charge.failed"]


def test_a_declined_intent_can_be_confirmed_again_with_another_card(emulator):
    client = emulator.client()
    with pytest.raises(stripe.CardError) as raised:
        _pay(client, payment_method="pm_card_chargeDeclinedInsufficientFunds")
    assert raised.value.error.decline_code == "insufficient_funds"
    intent_id = raised.value.error.payment_intent.id
    intent = client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    assert intent.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    assert again.value.code == "payment_intent_unexpected_state"


def test_partial_then_full_refund_and_nothing_beyond(emulator):
    client = emulator.client()
    intent = _pay(client, amount=5_000)
    partial = client.v1.refunds.create({"payment_intent": intent.id, "amount": 2_000})
    assert (partial.amount, partial.status, partial.charge) == (
        2_000,
        "succeeded",
        intent.latest_charge,
    )
    txn = client.v1.balance_transactions.retrieve(partial.balance_transaction)
    assert (txn.amount, txn.fee, txn.type, txn.reporting_category) == (
        -2_000,
        0,
        "refund",
        "refund",
    )

    with pytest.raises(stripe.InvalidRequestError) as beyond:
        client.v1.refunds.create({"charge": intent.latest_charge, "amount": 3_001})
    assert beyond.value.http_status == 400 and beyond.value.param == "amount"

    rest = client.v1.refunds.create({"charge": intent.latest_charge})
    assert rest.amount == 3_000
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 5_000 and charge.refunded is True
    with pytest.raises(stripe.InvalidRequestError) as done:
        client.v1.refunds.create({"charge": charge.id})
    assert done.value.code == "charge_already_refunded"
    assert _types(client, charge.id) == ["charge.succeeded", "charge.refunded", "charge.refunded"]


def test_refund_metadata_update_sends_charge_refund_updated(emulator):
    client = emulator.client()
    refund = client.v1.refunds.create({"payment_intent": _pay(client).id})
    client.v1.refunds.update(refund.id, {"metadata": {"reason_code": "r1"}})
    event = client.v1.events.list({"type": "charge.refund.updated", "limit": 1}).data[0]
    assert event.data.object.id == refund.id
    assert event.data.previous_attributes.to_dict() == {"metadata": {}}


def _wait_dispute(client, intent_id: str):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = client.v1.disputes.list({"payment_intent": intent_id}).data
        if found:
            return found[0]
        time.sleep(0.05)
    pytest.fail("the createDispute card's dispute never opened")


def test_create_dispute_card_opens_a_dispute_after_the_charge(emulator):
    client = emulator.client()
    intent = _pay(client, amount=8_000, payment_method="pm_card_createDispute")
    assert intent.status == "succeeded"
    dispute = _wait_dispute(client, intent.id)
    assert (dispute.status, dispute.amount, dispute.charge) == (
        "needs_response",
        8_000,
        intent.latest_charge,
    )
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.reporting_category) == (
        -8_000,
        1_500,
        "dispute",
    )
    assert client.v1.charges.retrieve(intent.latest_charge).disputed is True
    assert "charge.dispute.created" in _types(client, dispute.id)


def test_winning_evidence_wins_and_gives_the_money_back(emulator):
    client = emulator.client()
    dispute = _wait_dispute(client, _pay(client, payment_method="pm_card_createDispute").id)
    won = client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    assert won.status == "won"
    reversal = won.balance_transactions[-1]
    assert reversal.reporting_category == "dispute_reversal"
    assert reversal.amount == -won.balance_transactions[0].amount
    assert _types(client, dispute.id)[-2:] == [
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    ]


@pytest.mark.parametrize("how", ["losing_evidence", "close"])
def test_losing_evidence_or_closing_loses(emulator, how):
    client = emulator.client()
    dispute = _wait_dispute(client, _pay(client, payment_method="pm_card_createDispute").id)
    if how == "close":
        lost = client.v1.disputes.close(dispute.id)
    else:
        lost = client.v1.disputes.update(
            dispute.id, {"evidence": {"uncategorized_text": "losing_evidence"}}
        )
    assert lost.status == "lost" and len(lost.balance_transactions) == 1
    assert _types(client, dispute.id)[-1] == "charge.dispute.closed"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(dispute.id)


def test_foreign_currency_settles_with_an_exchange_rate(emulator):
    client = emulator.client()
    settlement = emulator.store.platform.default_currency
    foreign = "jpy" if settlement != "jpy" else "usd"
    intent = _pay(client, amount=3_000, currency=foreign, payment_method="pm_card_jp")
    charge = client.v1.charges.retrieve(intent.latest_charge, {"expand": ["balance_transaction"]})
    txn = charge.balance_transaction
    rate = mutations.exchange_rate(foreign, settlement)
    assert charge.currency == foreign and charge.payment_method_details.card.country == "JP"
    assert txn.currency == settlement and txn.exchange_rate == rate
    assert txn.amount == mutations.convert(3_000, foreign, settlement, rate)
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 1_000})
    refund_txn = client.v1.balance_transactions.retrieve(refund.balance_transaction)
    assert refund_txn.exchange_rate == rate
    assert refund_txn.amount == -mutations.convert(1_000, foreign, settlement, rate)


def test_unknown_payment_method_is_resource_missing(emulator):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _pay(emulator.client(), payment_method="pm_card_nope")
    assert raised.value.code == "resource_missing" and raised.value.param == "payment_method"


def test_missing_amount_is_worded_as_stripe(emulator):
    answer = httpx.post(
        emulator.url("/v1/payment_intents"),
        data={"currency": "usd"},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "Missing required param: amount."
    assert error["param"] == "amount" and error["type"] == "invalid_request_error"
