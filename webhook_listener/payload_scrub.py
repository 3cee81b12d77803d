"""Card data never lands in the webhook inbox either: the stored copy of an event keeps, of any
card-like object, only the allow-list of stripe_pipeline/card_data.py (type, brand, funding,
country). The payload hash stays that of the raw body, so redeliveries still match.

stripe_pipeline.card_data reads a charge's `payment_method_details` for ingestion; events carry
cards in more places (a PaymentMethod's `card`, a legacy `source`, `previous_attributes`), so
this walks the whole event and reduces every card-like object it finds.
"""

from __future__ import annotations

from typing import Any

from stripe_pipeline.card_data import ALLOWED_CARD_FIELDS, CARD_LIKE_TYPES

# `object` marks what a dict is; it says nothing about the card.
_KEEP = frozenset(ALLOWED_CARD_FIELDS) | {"object", "type"}


def _reduce_card(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k in _KEEP}


def scrub_card_data(value: Any) -> Any:
    """A copy of `value` (any JSON value) with every card-like object reduced to the allow-list."""
    if isinstance(value, list):
        return [scrub_card_data(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.get("object") == "card":
        return _reduce_card(value)
    return {
        key: _reduce_card(item)
        if key in CARD_LIKE_TYPES and isinstance(item, dict)
        else scrub_card_data(item)
        for key, item in value.items()
    }
