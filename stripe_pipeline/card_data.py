"""The card-data allow-list: what of a payment method may ever leave Stripe for the warehouse.

PCI scope stays at zero only if card data never lands. Rather than deleting known-sensitive keys
(last4, fingerprint, exp_month, exp_year, cardholder name, billing_details, ...), which would let
any field Stripe adds later through, the pipeline copies out the few allowed values and nothing
else. This module is the only place that reads inside `payment_method_details`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Sub-objects of payment_method_details whose brand/funding/country describe a card. Other
# methods (sepa_debit, us_bank_account, ...) contribute only their type.
CARD_LIKE_TYPES = frozenset({"card", "card_present", "interac_present"})
# The only keys read from a card-like sub-object.
ALLOWED_CARD_FIELDS = ("brand", "funding", "country")


@dataclass(frozen=True, slots=True)
class PaymentMethodSummary:
    """The allowed view of a payment method: its type and, for cards, brand, funding, country."""

    type: str | None = None
    card_brand: str | None = None
    card_funding: str | None = None
    card_country: str | None = None


EMPTY = PaymentMethodSummary()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def summarize_payment_method(details: Any) -> PaymentMethodSummary:
    """The allow-listed summary of a charge's `payment_method_details` (None-safe)."""
    if not isinstance(details, Mapping):
        return EMPTY
    pm_type = _text(details.get("type"))
    card = details.get(pm_type) if pm_type in CARD_LIKE_TYPES else None
    if not isinstance(card, Mapping):
        return PaymentMethodSummary(type=pm_type)
    return PaymentMethodSummary(
        type=pm_type,
        card_brand=_text(card.get("brand")),
        card_funding=_text(card.get("funding")),
        card_country=_text(card.get("country")),
    )
