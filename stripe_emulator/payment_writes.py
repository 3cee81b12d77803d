"""Payment intents that do not settle at once: bank debits and manual capture, through the API.

Bank debits (`POST /v1/payment_intents` with `payment_method_data[type]=us_bank_account` or
`sepa_debit`, `mandate_data[customer_acceptance]`, `confirm=true`), driven by Stripe's test
values (https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment#test-integration,
https://docs.stripe.com/payments/sepa-debit/accept-a-payment#test-integration):

| ACH account number (routing 110000000) | SEPA IBAN | outcome |
| --- | --- | --- |
| 000123456789 | DE89370400440532013000, AT611904300234573201 (and the "after 3 minutes" ones) | succeeds |
| 000111111113 | | fails: `account_closed` |
| 000111111116 | | fails: `no_account` |
| 000222222227 | DE62370400440532013001, AT861904300235473202 (and "after 3 minutes") | fails: `insufficient_funds` |
| 000333333335 | | fails: `debit_not_authorized` |

On confirmation the intent is `processing`, the charge `pending` with a pending `payment`
balance transaction (`payment_intent.processing`, `charge.pending`); the bank's answer comes on
the emulator's clock after bank_debits.DECISION_DAYS (Stripe's test mode answers within minutes;
the emulator keeps a live account's days so a pipeline sees the pending window).

Manual capture (https://docs.stripe.com/payments/place-a-hold-on-a-payment-method):
`capture_method=manual` authorizes (`requires_capture`, a charge with `captured: false`, no
balance transaction); `POST /v1/payment_intents/{id}/capture` with `amount_to_capture` captures
all or part. A partial capture shows as Stripe's reporting categories describe it
(https://docs.stripe.com/reports/reporting-categories): a `charge` balance transaction for the
whole authorization (the fee on the captured amount) and a `refund`-type one reversing the
uncaptured part with reporting category `partial_capture_reversal`; the charge has
`amount_captured`, and the released part is a refund counted in `amount_refunded`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stripe_emulator import bank_debits, objects
from stripe_emulator.app import StripeError
from stripe_emulator.money import card_available_on, card_fee, convert, exchange_rate

if TYPE_CHECKING:
    from stripe_emulator.mutations import Call

ACH_OUTCOMES = {
    "000123456789": None,
    "000111111113": "account_closed",
    "000111111116": "no_account",
    "000222222227": "insufficient_funds",
    "000333333335": "debit_not_authorized",
}
SEPA_OUTCOMES = {
    "DE89370400440532013000": None,
    "AT611904300234573201": None,
    "DE08370400440532013003": None,
    "AT321904300235473204": None,
    "DE62370400440532013001": "insufficient_funds",
    "AT861904300235473202": "insufficient_funds",
    "DE78370400440532013004": "insufficient_funds",
    "AT051904300235473205": "insufficient_funds",
}
CURRENCY = {"us_bank_account": "usd", "sepa_debit": "eur"}


@dataclass(frozen=True)
class BankDebit:
    method: str
    last4: str
    failure_code: str | None
    billing: dict


def bank_debit_params(params: dict[str, Any], currency: str) -> BankDebit | None:
    """The bank debit `payment_method_data` asks for (None: not a bank debit), or a 400."""
    data = params.get("payment_method_data")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise StripeError(400, "Invalid hash", param="payment_method_data")
    method = data.get("type")
    if method not in bank_debits.METHODS:
        raise StripeError(
            400,
            "The emulator accepts payment_method_data of type us_bank_account or sepa_debit "
            "(use payment_method=pm_card_... for cards).",
            param="payment_method_data[type]",
        )
    if currency != CURRENCY[method]:
        raise StripeError(
            400,
            f"The currency provided ({currency}) is invalid for payment method type {method}. "
            f"Use {CURRENCY[method]}.",
            param="currency",
        )
    details = data.get(method)
    if not isinstance(details, dict):
        raise StripeError(400, f"Missing required param: payment_method_data[{method}].",
                          code="parameter_missing", param=f"payment_method_data[{method}]")  # fmt: skip
    billing_raw = data.get("billing_details") or {}
    billing = objects.billing_details(
        name=billing_raw.get("name"), email=billing_raw.get("email"), country=None
    )
    if method == "us_bank_account":
        number = str(details.get("account_number") or "")
        routing = str(details.get("routing_number") or "")
        if len(routing) != 9 or not routing.isdigit():
            raise StripeError(
                400,
                "Routing number must have 9 digits.",
                param="payment_method_data[us_bank_account][routing_number]",
            )
        if not number.isdigit():
            raise StripeError(
                400,
                "Invalid account number.",
                param="payment_method_data[us_bank_account][account_number]",
            )
        return BankDebit(method, number[-4:], ACH_OUTCOMES.get(number), billing)
    iban = str(details.get("iban") or "").replace(" ", "").upper()
    if len(iban) < 15 or not iban[:2].isalpha():
        raise StripeError(
            400, "The IBAN you provided is invalid.", param="payment_method_data[sepa_debit][iban]"
        )
    if not billing["name"] or not billing["email"]:
        raise StripeError(
            400,
            "SEPA Direct Debit requires billing_details[name] and billing_details[email].",
            param="payment_method_data[billing_details]",
        )
    return BankDebit(method, iban[-4:], SEPA_OUTCOMES.get(iban), billing)


# (account id, intent id) -> the bank debit an unconfirmed intent was created with
_UNCONFIRMED: dict[tuple[str, str], BankDebit] = {}


def remember(account: Any, intent_id: str, bank: BankDebit) -> None:
    _UNCONFIRMED[(account.id, intent_id)] = bank


def remembered(account: Any, intent_id: str) -> BankDebit | None:
    return _UNCONFIRMED.get((account.id, intent_id))


def _require_mandate(params: dict[str, Any]) -> None:
    acceptance = (params.get("mandate_data") or {}).get("customer_acceptance")
    if not isinstance(acceptance, dict) or acceptance.get("type") not in ("online", "offline"):
        raise StripeError(
            400,
            "A bank debit needs the customer's mandate: pass "
            "mandate_data[customer_acceptance][type]=online (with [online][ip_address] and "
            "[online][user_agent]) or offline.",
            code="parameter_missing",
            param="mandate_data",
        )


def confirm_bank_debit(call: Call, intent: dict, bank: BankDebit) -> dict:
    _require_mandate(call.params)
    account, store = call.account, call.store
    now = call.now()
    pm_id, charge_id, txn_id = store.new_id("pm"), store.new_id("ch"), store.new_id("txn")
    fingerprint = store.new_id("fp")[-16:]
    mandate = store.new_id("mandate")
    pm = bank_debits.payment_method(pm_id, bank.method, now, fingerprint, bank.billing,
                                    intent.get("customer"))  # fmt: skip
    pm[bank.method]["last4"] = bank.last4
    settlement = account.default_currency
    rate = exchange_rate(intent["currency"], settlement)
    settled = convert(intent["amount"], intent["currency"], settlement, rate)
    fee = bank_debits.fee(bank.method, settled)
    available_on = bank_debits.available_on(now, bank.method)
    txn = objects.balance_transaction(
        id=txn_id, amount=settled, currency=settlement, created=now, available_on=available_on,
        source=charge_id, type="payment", reporting_category="charge", fee=fee,
        fee_details=[objects.fee_detail(fee, settlement)], exchange_rate=rate,
        status="pending", description=intent.get("description"),
    )  # fmt: skip
    details = bank_debits.charge_details(bank.method, now, fingerprint, mandate)
    details[bank.method]["last4"] = bank.last4
    charge = objects.charge(
        id=charge_id, amount=intent["amount"], currency=intent["currency"], created=now,
        balance_transaction=txn_id, payment_intent=intent["id"], payment_method=pm_id,
        customer=intent.get("customer"), billing=bank.billing,
        metadata=dict(intent.get("metadata") or {}), description=intent.get("description"),
        receipt_email=intent.get("receipt_email"),
    )  # fmt: skip
    charge.update(bank_debits.charge_overrides("pending", None, None))
    charge["payment_method_details"] = details
    charge["amount_captured"] = intent["amount"]
    before = copy.deepcopy(intent)
    intent.update(
        status="processing",
        payment_method=pm_id,
        latest_charge=charge_id,
        payment_method_types=[bank.method],
        last_payment_error=None,
    )
    account.put(pm)
    account.put(txn)
    account.put(charge)
    account.put(intent)
    _UNCONFIRMED.pop((account.id, intent["id"]), None)
    call.emit("payment_intent.processing", intent, {"status": before["status"]})
    call.emit("charge.pending", charge)
    at = bank_debits.decision_at(now, bank.method)
    store.schedule(at, lambda: _bank_answers(account, charge_id, intent["id"], bank, at))
    return intent


def _bank_answers(account: Any, charge_id: str, intent_id: str, bank: BankDebit, at: int) -> None:
    """The bank's answer to a debit, when the clock reaches it."""
    charge = account.get("charge", charge_id)
    intent = account.get("payment_intent", intent_id)
    if bank.failure_code is None:
        charge.update(bank_debits.charge_overrides("succeeded", None, None))
        intent.update(status="succeeded", amount_received=intent["amount"])
        account.put(charge)
        account.put(intent)
        account.emit_event("charge.succeeded", charge, {"status": "pending"}, created=at)
        account.emit_event("payment_intent.succeeded", intent, {"status": "processing"},
                           created=at)  # fmt: skip
        return
    payment_bt = account.get("balance_transaction", charge["balance_transaction"])
    failure = bank_debits.failure_balance_transaction(
        id=account.store.new_id("txn"), payment_bt=payment_bt, created=at, source=charge_id,
        status="available" if payment_bt["available_on"] <= at else "pending",
    )  # fmt: skip
    charge.update(bank_debits.charge_overrides("failed", bank.failure_code, failure["id"]))
    error = {
        "advice_code": None, "charge": charge_id, "code": bank.failure_code,
        "decline_code": None, "doc_url": None,
        "message": bank_debits.FAILURES[bank.failure_code], "network_advice_code": None,
        "network_decline_code": None, "param": None,
        "payment_method": account.lookup("payment_method", charge["payment_method"]),
        "payment_method_type": bank.method, "type": "card_error",
    }  # fmt: skip
    intent.update(status="requires_payment_method", last_payment_error=error, payment_method=None)
    account.put(failure)
    account.put(charge)
    account.put(intent)
    account.emit_event("charge.failed", charge, {"status": "pending"}, created=at)
    account.emit_event("payment_intent.payment_failed", intent, {"status": "processing"},
                       created=at)  # fmt: skip


# -- manual capture --------------------------------------------------------------------------


def authorize(call: Call, intent: dict, charge: dict) -> dict:
    """A card authorized for later capture: no money moves until capture."""
    charge.update(captured=False, amount_captured=0, balance_transaction=None)
    intent.update(
        status="requires_capture",
        amount_capturable=intent["amount"],
        last_payment_error=None,
    )
    call.account.put(charge)
    call.account.put(intent)
    call.emit("charge.succeeded", charge)
    call.emit("payment_intent.amount_capturable_updated", intent)
    return intent


def capture(call: Call) -> dict:
    from stripe_emulator.mutations import _check_known, _existing, _int

    _check_known(call.params, {"amount_to_capture", "metadata"})
    intent = _existing(call, "payment_intent", call.path_params["id"], "payment_intent")
    if intent["status"] != "requires_capture":
        raise StripeError(
            400,
            "This PaymentIntent could not be captured because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            "captured: requires_capture.",
            code="payment_intent_unexpected_state",
        )
    capturable = intent["amount_capturable"]
    amount = _int(call.params, "amount_to_capture")
    amount = capturable if amount is None else amount
    if amount <= 0 or amount > capturable:
        raise StripeError(
            400,
            f"The amount to capture ({amount}) must be positive and at most the amount "
            f"capturable ({capturable}).",
            code="amount_too_large" if amount > capturable else "parameter_invalid_integer",
            param="amount_to_capture",
        )
    account, store = call.account, call.store
    now = call.now()
    charge = account.get("charge", intent["latest_charge"])
    settlement = account.default_currency
    rate = exchange_rate(charge["currency"], settlement)
    authorized = convert(charge["amount"], charge["currency"], settlement, rate)
    captured = convert(amount, charge["currency"], settlement, rate)
    fee = card_fee(captured, settlement, rate is not None)
    txn = objects.balance_transaction(
        id=store.new_id("txn"), amount=authorized, currency=settlement, created=now,
        available_on=card_available_on(now), source=charge["id"], type="charge",
        reporting_category="charge", fee=fee, fee_details=[objects.fee_detail(fee, settlement)],
        exchange_rate=rate, status="pending", description=charge.get("description"),
    )  # fmt: skip
    account.put(txn)
    released = charge["amount"] - amount
    charge.update(
        captured=True,
        amount_captured=amount,
        balance_transaction=txn["id"],
        amount_refunded=released,
    )
    if released:
        refund_id = store.new_id("re")
        reversal = objects.balance_transaction(
            id=store.new_id("txn"), amount=captured - authorized, currency=settlement,
            created=now, available_on=card_available_on(now), source=refund_id, type="refund",
            reporting_category="partial_capture_reversal", exchange_rate=rate,
            status="pending", description="Uncaptured amount released",
        )  # fmt: skip
        refund = objects.refund(
            id=refund_id, amount=released, currency=charge["currency"], created=now,
            charge=charge["id"], payment_intent=intent["id"],
            balance_transaction=reversal["id"], metadata={},
        )  # fmt: skip
        account.put(reversal)
        account.put(refund)
    intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
    account.put(charge)
    account.put(intent)
    call.emit("charge.captured", charge, {"captured": False, "amount_captured": 0})
    call.emit("payment_intent.succeeded", intent, {"status": "requires_capture"})
    return intent
