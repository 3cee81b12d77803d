"""Card data never lands in the webhook inbox either: the stored copy of an event keeps, of any
payment instrument, only the allow-list of stripe_pipeline/card_data.py (type, brand, funding,
country). The payload hash stays that of the raw body, so redeliveries still match.

stripe_pipeline.card_data reads a charge's `payment_method_details` for ingestion; events carry
payment instruments in more places (a PaymentMethod, a legacy `source` or `card`, a customer's
`sources`, a bank account, an issuing card, `previous_attributes`), so this walks the whole
event and reduces every one it finds. Like card_data it is an allow-list: of an instrument,
whatever is not named here is dropped, so a field Stripe adds later (a new payment method type,
a new wallet) cannot slip through.
"""

from __future__ import annotations

from typing import Any

from stripe_pipeline.card_data import ALLOWED_CARD_FIELDS, CARD_LIKE_TYPES

# `object` marks what a dict is; it says nothing about the card.
_KEEP = frozenset(ALLOWED_CARD_FIELDS) | {"object", "type"}
# Objects that are a payment instrument (or its holder): reduced to _INSTRUMENT_KEEP.
_INSTRUMENT_OBJECTS = frozenset(
    {
        "card",
        "bank_account",
        "source",
        "payment_method",
        "issuing.card",
        "issuing.cardholder",
    }
)
# What an instrument keeps: what it is and whose, never how to reach or identify the payer.
_INSTRUMENT_KEEP = frozenset({"id", "object", "type", "customer", "created", "livemode", "deleted"})
# Per payment method, the method's own sub-object (`card`, `sepa_debit`, ...) sits under the key
# named by `type`; these hold it (a charge's, dispute's, mandate's or setup attempt's).
_DETAILS_KEYS = frozenset({"payment_method_details", "payment_method_preview"})
# The payer's name, email, phone and address: never kept. Beside billing details, Stripe repeats
# them in shipping, receipts, checkout and invoice customer fields and dispute evidence, where a
# cardholder's name often stands again (nothing the pipeline lands reads these keys).
_DROPPED_KEYS = frozenset(
    {
        "billing_details",
        "shipping",
        "receipt_email",
        "customer_details",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "evidence",
        "email",
        "phone",
        "address",
    }
)


def _reduce_card(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k in _KEEP}


def _reduce_details(details: Any) -> Any:
    """`payment_method_details` (or a partial one in previous_attributes): the type, and of a
    card-like sub-object only brand, funding and country; every other method's sub-object goes."""
    if not isinstance(details, dict):
        return None
    out: dict[str, Any] = {}
    for key, item in details.items():
        if key == "type" and (item is None or isinstance(item, str)):
            out[key] = item
        elif key in CARD_LIKE_TYPES and isinstance(item, dict):
            out[key] = _reduce_card(item)
    return out


def _reduce_instrument(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ALLOWED_CARD_FIELDS and value.get("object") in ("card", "issuing.card"):
            out[key] = item if isinstance(item, str | None) else None
        elif key in _INSTRUMENT_KEEP:
            out[key] = scrub_card_data(item) if key == "customer" else item
        elif key in CARD_LIKE_TYPES and isinstance(item, dict):
            out[key] = _reduce_card(item)
    return out


def _is_instrument(value: dict[str, Any]) -> bool:
    # A PaymentMethod-like dict without `object` (an embedded preview) is recognized by its
    # billing_details beside a type; a charge has billing_details too, but says it is a charge.
    kind = value.get("object")
    if isinstance(kind, str):
        return kind in _INSTRUMENT_OBJECTS
    return kind is None and "billing_details" in value and "type" in value


def scrub_card_data(value: Any) -> Any:
    """A copy of `value` (any JSON value) with every payment instrument reduced to the
    allow-list and every payer's billing details removed."""
    if isinstance(value, list):
        return [scrub_card_data(item) for item in value]
    if not isinstance(value, dict):
        return value
    if _is_instrument(value):
        return _reduce_instrument(value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _DROPPED_KEYS:
            out[key] = None
        elif key in _DETAILS_KEYS:
            out[key] = _reduce_details(item)
        elif key in CARD_LIKE_TYPES and isinstance(item, dict):
            out[key] = _reduce_card(item)
        elif key == "previous_attributes" and isinstance(item, dict):
            out[key] = _scrub_previous(item, value.get("object"))
        else:
            out[key] = scrub_card_data(item)
    return out


def _scrub_previous(previous: dict[str, Any], current: Any) -> dict[str, Any]:
    """An event's `previous_attributes` is a partial copy of `data.object`: when that object is
    an instrument, only the keys an instrument keeps survive (its `sepa_debit`, say, is not
    recognizable on its own)."""
    if isinstance(current, dict) and _is_instrument(current):
        reduced = _reduce_instrument({**previous, "object": current.get("object")})
        return {k: v for k, v in reduced.items() if k in previous}
    return scrub_card_data(previous)
