"""Card data never lands in the webhook inbox either: the stored copy of an event keeps, of any
payment instrument, only the allow-list of stripe_pipeline/card_data.py (type, brand, funding,
country). The payload hash stays that of the raw body, so redeliveries still match.

stripe_pipeline.card_data reads a charge's `payment_method_details` for ingestion; events carry
payment instruments in more places (a PaymentMethod, a legacy `source` or `card`, a customer's
`sources`, a bank account, an issuing card, `previous_attributes`), so this walks the whole
event and reduces every one it finds. Like card_data it is an allow-list: of an instrument,
whatever is not named here is dropped, so a field Stripe adds later (a new payment method type,
a new wallet) cannot slip through. Kept values are scalars: a `brand` or `type` that arrives as an
object or a list is dropped, never copied with whatever it holds.

A card is recognized by its `object`, by the key it sits under, or, when neither says so (a
legacy `source` without `object`), by its id prefix or a card field such as `last4`. A customer is
reduced to its own allow-list: the payer's name lives on it too.

The walk recurses once per nesting level: the listener refuses events nested deeper than
`MAX_DEPTH` before scrubbing (`too_deep`), far beyond what Stripe sends.
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
# Ids of payment instruments (card, source, PaymentMethod, bank account, issuing card).
_INSTRUMENT_ID_PREFIXES = ("card_", "src_", "pm_", "ba_", "ic_", "ich_")
# Fields only a card carries: a dict holding one is a card, whatever its `object` says.
_CARD_TELLTALES = frozenset(
    {"last4", "dynamic_last4", "fingerprint", "exp_month", "exp_year", "iin", "cvc_check"}
)
# What a customer keeps (https://docs.stripe.com/api/customers/object): which one, and the
# host-app links in its metadata; never its name, description, contact details or sources.
_CUSTOMER_KEEP = frozenset(
    {"id", "object", "created", "livemode", "deleted", "metadata", "currency", "delinquent"}
)
# Deeper than any event Stripe sends (about a dozen levels with expansions); see too_deep.
MAX_DEPTH = 64
# The payer's name, email, phone and address: never kept. Beside billing details, Stripe repeats
# them in shipping, receipts, checkout and invoice customer fields and dispute evidence, where a
# cardholder's name often stands again (nothing the pipeline lands reads these keys).
_DROPPED_KEYS = frozenset(
    {
        "billing_details",
        "shipping",
        "shipping_details",
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


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _reduce_card(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k in _KEEP and _scalar(v)}


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
    is_card = value.get("object") in ("card", "issuing.card") or _looks_like_card(value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ALLOWED_CARD_FIELDS and is_card:
            out[key] = item if isinstance(item, str | None) else None
        elif key == "customer":
            out[key] = scrub_card_data(item)
        elif key in _INSTRUMENT_KEEP:
            out[key] = item if _scalar(item) else None
        elif key in CARD_LIKE_TYPES and isinstance(item, dict):
            out[key] = _reduce_card(item)
    return out


def _looks_like_card(value: dict[str, Any]) -> bool:
    return not _CARD_TELLTALES.isdisjoint(value)


def _is_instrument(value: dict[str, Any]) -> bool:
    # A PaymentMethod-like dict without `object` (an embedded preview) is recognized by its
    # billing_details beside a type; a charge has billing_details too, but says it is a charge.
    kind = value.get("object")
    if isinstance(kind, str):
        return kind in _INSTRUMENT_OBJECTS or (kind != "customer" and _looks_like_card(value))
    if _looks_like_card(value):
        return True
    ident = value.get("id")
    if isinstance(ident, str) and ident.startswith(_INSTRUMENT_ID_PREFIXES):
        return True
    return kind is None and "billing_details" in value and "type" in value


def _reduce_customer(value: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (scrub_card_data(v) if k == "metadata" else v if _scalar(v) else None)
        for k, v in value.items()
        if k in _CUSTOMER_KEEP
    }


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests objects or arrays more than `limit` levels deep (iterative: any
    depth orjson can parse is measured without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def scrub_card_data(value: Any) -> Any:
    """A copy of `value` (any JSON value) with every payment instrument reduced to the
    allow-list and every payer's billing details removed."""
    if isinstance(value, list):
        return [scrub_card_data(item) for item in value]
    if not isinstance(value, dict):
        return value
    if _is_instrument(value):
        return _reduce_instrument(value)
    if value.get("object") == "customer":
        return _reduce_customer(value)
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
    if isinstance(current, dict) and current.get("object") == "customer":
        return _reduce_customer(previous)
    return scrub_card_data(previous)
