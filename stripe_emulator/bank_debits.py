"""Bank debits: ACH Direct Debit (`us_bank_account`, USD) and SEPA Direct Debit (`sepa_debit`,
EUR), as Stripe runs them.

A bank debit is a "delayed notification" payment method
(https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment,
https://docs.stripe.com/payments/sepa-debit): on confirmation the payment intent is
`processing`, the charge `pending` (`charge.pending`), and a balance transaction of type
`payment` (reporting category `charge`) is `pending`. Days later the bank answers:

* success: the charge turns `succeeded` (`charge.succeeded`, `payment_intent.succeeded`) and the
  funds become available the next day;
* failure: the charge turns `failed` with the bank's failure code (`charge.failed`,
  `payment_intent.payment_failed`, the intent back to `requires_payment_method`), and a
  `payment_failure_refund` balance transaction (reporting category `charge_failure`) takes the
  amount back and returns the fee, so the two balance transactions net to zero. The charge's
  `failure_balance_transaction` names it.

The emulator decides after `DECISION_DAYS` calendar days (Stripe: about 4 business days for ACH,
up to 14 for SEPA, usually 7 or 8). Generated data and the write API share the helpers here.
"""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.money import DAY, bank_debit_fee, day_start
from stripe_emulator.streams import EventStream, GenStream

# Share of eligible generated payments (one-off prices in the account's own currency, USD or
# EUR) paid by bank debit, and of those the share the bank returns. Live ACH return rates are
# 1-3 %; 8 % lets a 500-charge account show a few failures.
BANK_DEBIT_PERCENT = 20
BANK_FAILURE_PERCENT = 8
METHOD_FOR_CURRENCY = {"usd": "us_bank_account", "eur": "sepa_debit"}
DECISION_DAYS = {"us_bank_account": 4, "sepa_debit": 7}
METHODS = frozenset(DECISION_DAYS)

# (failure_code, failure_message) as Stripe reports bank returns.
FAILURES = {
    "insufficient_funds": "The customer's account has insufficient funds to cover this payment.",
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "debit_not_authorized": "The customer has notified their bank that this payment was "
    "unauthorized.",
}
FAILURE_CODES = tuple(FAILURES)
ROUTING_NUMBER = "110000000"


def decision_at(created: int, method: str) -> int:
    """When the bank's answer arrives for a debit confirmed at `created`."""
    return created + DECISION_DAYS[method] * DAY


def available_on(created: int, method: str) -> int:
    """Funds of a successful debit are available from 00:00 UTC after the bank's answer."""
    return day_start(decision_at(created, method)) + DAY


def fee(method: str, amount: int) -> int:
    return bank_debit_fee(method, amount)


def charge_details(method: str, created: int, fingerprint: str, mandate: str) -> dict:
    """`payment_method_details` of a bank-debit charge (no account number: last4 only)."""
    if method == "us_bank_account":
        return {
            "type": method,
            method: {
                "account_holder_type": "individual",
                "account_type": "checking",
                "bank_name": "STRIPE TEST BANK",
                "expected_debit_date": _date(created),
                "fingerprint": fingerprint,
                "last4": "6789",
                "mandate": mandate,
                "payment_reference": None,
                "routing_number": ROUTING_NUMBER,
            },
        }
    return {
        "type": method,
        method: {
            "bank_code": "37040044",
            "branch_code": None,
            "country": "DE",
            "expected_debit_date": _date(created),
            "fingerprint": fingerprint,
            "last4": "3000",
            "mandate": mandate,
        },
    }


def payment_method(
    id: str, method: str, created: int, fingerprint: str, billing: dict, customer: str | None
) -> dict:
    details: dict[str, Any]
    if method == "us_bank_account":
        details = {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "financial_connections_account": None,
            "fingerprint": fingerprint,
            "last4": "6789",
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": ROUTING_NUMBER,
            "status_details": None,
        }
    else:
        details = {
            "bank_code": "37040044",
            "branch_code": None,
            "country": "DE",
            "fingerprint": fingerprint,
            "generated_from": {"charge": None, "setup_attempt": None},
            "last4": "3000",
        }
    return {
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "created": created,
        "customer": customer,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": method,
        method: details,
    }


def _date(t: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d")


OUTCOME_PENDING = {
    "advice_code": None,
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "approved_by_network",
    "reason": None,
    "risk_level": "not_assessed",
    "seller_message": "Payment complete.",
    "type": "authorized",
}
OUTCOME_FAILED = {
    **OUTCOME_PENDING,
    "network_status": "declined_by_network",
    "seller_message": "The bank returned this payment.",
    "type": "issuer_declined",
}


def charge_overrides(status: str, failure_code: str | None, failure_txn: str | None) -> dict:
    """Fields of a bank-debit charge that differ from a card charge's, by status."""
    return {
        "status": status,
        "paid": status == "succeeded",
        "captured": True,
        "outcome": OUTCOME_FAILED if status == "failed" else OUTCOME_PENDING,
        "failure_code": failure_code,
        "failure_message": FAILURES.get(failure_code) if failure_code else None,
        "failure_balance_transaction": failure_txn,
    }


def failure_balance_transaction(
    id: str,
    payment_bt: dict,
    created: int,
    source: str,
    status: str,
) -> dict:
    """The `payment_failure_refund` that reverses a returned debit's payment and its fee."""
    fee_back = -payment_bt["fee"]
    return objects.balance_transaction(
        id=id,
        amount=-payment_bt["amount"],
        currency=payment_bt["currency"],
        created=created,
        available_on=payment_bt["available_on"],
        source=source,
        type="payment_failure_refund",
        reporting_category="charge_failure",
        fee=fee_back,
        fee_details=[
            objects.fee_detail(fee_back, payment_bt["currency"], "Stripe processing fees refund")
        ]
        if fee_back
        else [],
        exchange_rate=payment_bt["exchange_rate"],
        status=status,
        description="Payment failure refund",
    )


# -- generated streams -----------------------------------------------------------------------


class BankFailureBTStream(GenStream):
    """The `payment_failure_refund` of generated charge i, once its bank has answered."""

    object_type, prefix, kind, rank = "balance_transaction", "txn", "b", 5

    def created(self, i: int) -> int:
        # Every index gets its charge's answer time (an account debits with one method), so
        # `created` stays monotonic in i for the lists' binary searches.
        return decision_at(self.gen.charge_created(i), self.gen.bank_method)

    def exists(self, i: int) -> bool:
        pay = self.gen.payment(i)
        return pay.bank_failed and decision_at(pay.created, pay.method) <= self.gen.clock()

    def render(self, i: int) -> dict:
        return self.gen.render_bank_failure_bt(i)

    def settle(self, i: int) -> tuple[int, int] | None:
        pay = self.gen.payment(i)
        if not pay.bank_failed:
            return None
        return available_on(pay.created, pay.method), -(pay.settle_amount - pay.fee)

    def field(self, i: int, name: str) -> Any:
        if name == "type":
            return "payment_failure_refund"
        if name == "source":
            return self.gen.gen_id("ch", "c", i)
        return self.render(i).get(name)


class BankOutcomeEventStream(EventStream):
    """charge.succeeded|failed and payment_intent.succeeded|payment_failed at the bank's answer."""

    kind, rank, slots = "b", 5, 2
    event_types = frozenset(
        {
            "charge.succeeded",
            "charge.failed",
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
        }
    )

    def object_created(self, j: int) -> int:
        return decision_at(self.gen.charge_created(j), self.gen.bank_method)

    def event_type(self, i: int) -> str | None:
        j, slot = divmod(i, self.slots)
        pay = self.gen.payment(j)
        if pay.method not in METHODS or decision_at(pay.created, pay.method) > self.gen.clock():
            return None
        if slot == 0:
            return "charge.failed" if pay.bank_failed else "charge.succeeded"
        return "payment_intent.payment_failed" if pay.bank_failed else "payment_intent.succeeded"

    def data(self, i: int) -> dict:
        j, slot = divmod(i, self.slots)
        gen = self.gen
        pay = gen.payment(j)
        at = decision_at(pay.created, pay.method)
        if slot == 0:
            return {
                "object": gen.render_charge(j, as_of=at),
                "previous_attributes": {"status": "pending"},
            }
        return {
            "object": gen.render_payment_intent(j, as_of=at),
            "previous_attributes": {"status": "processing"},
        }
