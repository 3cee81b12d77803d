"""Real Stripe payload shapes for the shape tests, and the card-data scan.

Shapes come from Stripe's published reference data in ../shared/stripe (the example object of
each resource type, and the OpenAPI spec for nullability and payment method types); a test that
needs them skips without the folder (a failure in CI, see tests.fixtures.services).

The scan: every leaf value of the input that sits inside a payment instrument (a charge's
`payment_method_details`, any `billing_details`, `card`, `source`, bank account, wallet, ...) and
is not on the allow-list (type, brand, funding, country, and the `id`/`object` markers) is card
data. None of them may show up in anything stored, unless the same value is also a legitimate
value elsewhere in the input (an id, an amount that a card's `overcapture` repeats).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fixtures.services import require_service

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "stripe"
FIXTURES = SHARED / "fixtures-2026-07-29.json"
SPEC = SHARED / "openapi-subset-2023-08-16.json"


def _require_reference() -> None:
    require_service(
        FIXTURES.is_file() and SPEC.is_file(),
        f"Stripe's reference data is not at {SHARED.resolve()} (fixtures-2026-07-29.json and "
        "openapi-subset-2023-08-16.json; present in CI only)",
    )


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def fixture(resource: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object of `resource` (e.g. "charge", "deleted_product")."""
    _require_reference()
    return copy.deepcopy(_load(FIXTURES)["resources"][resource])


def spec_schemas() -> dict[str, Any]:
    _require_reference()
    return _load(SPEC)["components"]["schemas"]


def payment_method_types() -> list[str]:
    """Every payment method type a charge's payment_method_details can name (spec 2023-08-16)."""
    props = spec_schemas()["payment_method_details"]["properties"]
    return sorted(k for k in props if k != "type")


def nullable_properties(schema_name: str) -> list[str]:
    props = spec_schemas()[schema_name]["properties"]
    return sorted(k for k, v in props.items() if v.get("nullable"))


# --------------------------------------------------------------------------- the card-data scan

# Keys whose (object or list) value is a payment instrument or describes one.
INSTRUMENT_KEYS = frozenset(
    {
        "payment_method_details",
        "payment_method_preview",
        "billing_details",
        "card",
        "card_present",
        "interac_present",
        "source",
        "sources",
        "default_source",
        "payment_method",
        "bank_account",
        "external_account",
        "wallet",
        "owner",
        "sepa_debit",
        "us_bank_account",
        "cardholder",
    }
)
# Objects that are an instrument wherever they appear (a PaymentMethod as data.object, ...).
INSTRUMENT_OBJECTS = frozenset(
    {"card", "bank_account", "source", "payment_method", "issuing.card", "issuing.cardholder"}
)
# Leaves inside an instrument that may be stored: the allow-list, and what an object is, when
# it was made and in which mode (none of which identifies a card or its holder).
ALLOWED_KEYS = frozenset(
    {
        "type",
        "brand",
        "funding",
        "country",
        "object",
        "id",
        "created",
        "livemode",
        "deleted",
        "url",
        "has_more",
    }
)


@dataclass
class Leaves:
    """Leaf values of an input: inside an instrument (card data) or not (public)."""

    card_data: dict[str, str] = field(default_factory=dict)  # value -> where
    public: set[str] = field(default_factory=set)

    def add(self, value: Any, path: str, sensitive: bool) -> None:
        if value is None or isinstance(value, bool):
            return
        if not isinstance(value, str | int | float):
            return
        text = str(value)
        if not text:
            return
        if sensitive:
            self.card_data.setdefault(text, path)
        else:
            self.public.add(text)

    def merge(self, other: Leaves) -> None:
        for value, where in other.card_data.items():
            self.card_data.setdefault(value, where)
        self.public |= other.public

    def secrets(self) -> dict[str, str]:
        """The card data values that appear nowhere else in the input."""
        return {
            v: where
            for v, where in self.card_data.items()
            if v not in self.public and not (len(v) >= 4 and any(v in p for p in self.public))
        }


def collect_leaves(value: Any, path: str = "$", sensitive: bool = False, key: str = "") -> Leaves:
    leaves = Leaves()
    _walk(value, path, sensitive, key, leaves)
    return leaves


def _walk(value: Any, path: str, sensitive: bool, key: str, leaves: Leaves) -> None:
    if isinstance(value, dict):
        kind = value.get("object")
        inside = sensitive or (isinstance(kind, str) and kind in INSTRUMENT_OBJECTS)
        for k, item in value.items():
            nested = inside or (k in INSTRUMENT_KEYS and isinstance(item, dict | list))
            _walk(item, f"{path}.{k}", nested, k, leaves)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", sensitive, key, leaves)
    else:
        leaves.add(value, path, sensitive and key not in ALLOWED_KEYS)


def _tokens(text: str) -> list[str]:
    """A stored text's leaf values: the JSON leaves of a JSON text (keys are schema, not data),
    else the text itself."""
    if text[:1] in "{[":
        try:
            parsed = json.loads(text)
        except ValueError:
            return [text]
        out, stack = [], [parsed]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif item is not None and not isinstance(item, bool):
                out.append(str(item))
        return out
    return [text]


def find_card_data(leaves: Leaves, stored: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(stored location, card-data value, where it was in the input) for every card-data value
    found in a stored text: equal to the text or to a JSON leaf of it, or, from 4 characters
    on, anywhere inside one."""
    secrets = leaves.secrets()
    # Inside a longer text, a value counts as a whole word ("visa **** 4242"), not as a run of
    # characters in a hash or a timestamp.
    long_ones = [
        (v, re.compile(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])"))
        for v in secrets
        if len(v) >= 4
    ]
    hits = []
    for location, text in stored:
        if not isinstance(text, str):
            continue
        for token in _tokens(text):
            if token in secrets:
                hits.append((location, token, secrets[token]))
            hits.extend((location, v, secrets[v]) for v, word in long_ones if word.search(token))
    return sorted(set(hits))


# --------------------------------------------------------------------------- payment methods

BILLING = {
    "address": {
        "city": "Springfield",
        "country": "US",
        "line1": "742 Evergreen Terrace",
        "line2": "Unit 9B",
        "postal_code": "49007",
        "state": "OR",
    },
    "email": "jenny.shapes@example.com",
    "name": "Jenny Q. Cardholder",
    "phone": "+15555550123",
    "tax_id": "000-00-4321",
}

CARD_PRESENT = {
    "amount_authorized": 4321,
    "brand": "visa",
    "brand_product": "A",
    "capture_before": 1893456000,
    "cardholder_name": "JENNY Q CARDHOLDER",
    "country": "US",
    "description": "Visa Classic",
    "emv_auth_data": "8A023030",
    "exp_month": 11,
    "exp_year": 2031,
    "fingerprint": "CpFingerQz81kLm",
    "funding": "credit",
    "generated_card": "card_1GenCardPresentQz81",
    "incremental_authorization_supported": False,
    "issuer": "Shapes Bank",
    "last4": "0077",
    "network": "visa",
    "network_transaction_id": "NTI77665544",
    "offline": None,
    "overcapture_supported": False,
    "preferred_locales": ["en"],
    "read_method": "contact_emv",
    "receipt": {
        "account_type": "credit",
        "application_cryptogram": "F7A1C3E5B2D4",
        "application_preferred_name": "VISA CREDIT",
        "authorization_code": "A1B2C3",
        "authorization_response_code": "3030",
        "cardholder_verification_method": "online_pin",
        "dedicated_file_name": "A0000000031010",
        "terminal_verification_results": "0280008000",
        "transaction_status_information": "6800",
    },
    "wallet": {"type": "apple_pay"},
}

# A realistic sub-object per payment method type (fields as Stripe documents them), with values
# distinctive enough that finding one in storage cannot be a coincidence.
METHOD_DETAILS: dict[str, dict[str, Any]] = {
    "card": {
        "amount_authorized": 2500,
        "authorization_code": "Z9Y8X7",
        "brand": "visa",
        "checks": {
            "address_line1_check": "pass",
            "address_postal_code_check": "pass",
            "cvc_check": "pass",
        },
        "country": "US",
        "exp_month": 11,
        "exp_year": 2031,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": "WalletFprint7781",
        "funding": "debit",
        "installments": None,
        "last4": "3155",
        "mandate": None,
        "network": "visa",
        "network_token": {"used": True},
        "network_transaction_id": "NTI31553155",
        "three_d_secure": None,
        "wallet": {
            "apple_pay": {"type": "apple_pay"},
            "dynamic_last4": "8421",
            "type": "apple_pay",
        },
    },
    "card_present": CARD_PRESENT,
    "interac_present": {**CARD_PRESENT, "brand": "interac", "last4": "0099"},
    "sepa_debit": {
        "bank_code": "37040044",
        "branch_code": "0532",
        "country": "DE",
        "fingerprint": "SepaFprint7301x",
        "last4": "7301",
        "mandate": "mandate_1SepaShapes7301",
    },
    "us_bank_account": {
        "account_holder_type": "individual",
        "account_type": "checking",
        "bank_name": "SHAPES TEST BANK",
        "fingerprint": "UsbaFprint6791y",
        "last4": "6791",
        "mandate": "mandate_1UsbaShapes6791",
        "payment_reference": "PAYREF6791",
        "routing_number": "110000911",
    },
    "link": {"country": "DE"},
    "klarna": {
        "payer_details": {"address": {"country": "DE"}},
        "payment_method_category": "pay_later",
        "preferred_locale": "de-DE",
    },
    "paypal": {
        "country": "DE",
        "payer_email": "paula.payer@example.com",
        "payer_id": "PAYPALPAYER42X",
        "payer_name": "Paula Payer",
        "seller_protection": {"dispute_categories": ["fraudulent"], "status": "eligible"},
        "transaction_id": "89W40396MK104212A",
    },
    "ideal": {
        "bank": "ing",
        "bic": "INGBNL2A",
        "generated_sepa_debit": "pm_1GenSepaIdeal4312",
        "generated_sepa_debit_mandate": "mandate_1GenIdeal4312",
        "iban_last4": "4312",
        "verified_name": "Ingrid Verified",
    },
    "bancontact": {
        "bank_code": "VAPE",
        "bank_name": "VAN DE PUT & CO",
        "bic": "VAPEBE22",
        "iban_last4": "5529",
        "preferred_language": "nl",
        "verified_name": "Bart Verified",
    },
    "sofort": {
        "bank_code": "DEUT",
        "bank_name": "Deutsche Bank",
        "bic": "DEUTDE2H",
        "country": "DE",
        "iban_last4": "8864",
        "preferred_language": "de",
        "verified_name": "Sofia Verified",
    },
    "bacs_debit": {
        "fingerprint": "BacsFprint2345z",
        "last4": "2345",
        "mandate": "mandate_1BacsShapes2345",
        "sort_code": "108800",
    },
    "au_becs_debit": {
        "bsb_number": "000000",
        "fingerprint": "BecsFprint3456w",
        "last4": "3456",
        "mandate": "mandate_1BecsShapes3456",
    },
    "acss_debit": {
        "bank_name": "TORONTO-DOMINION BANK",
        "fingerprint": "AcssFprint6789v",
        "institution_number": "004",
        "last4": "6789",
        "mandate": "mandate_1AcssShapes6789",
        "transit_number": "11002",
    },
    "cashapp": {"buyer_id": "BUYER_CASH_77Q", "cashtag": "$jennyshapes"},
    "boleto": {"tax_id": "811.058.010-00"},
    "affirm": {"transaction_id": "AFFIRMTX9981"},
    "afterpay_clearpay": {"order_id": "AFTERPAY-7766", "reference": "ref-ap-7766"},
    "amazon_pay": {"funding": {"card": {"brand": "visa", "last4": "1881"}, "type": "card"}},
    "revolut_pay": {"funding": {"card": {"brand": "mastercard", "last4": "1992"}, "type": "card"}},
    "mobilepay": {
        "card": {
            "brand": "visa",
            "country": "DK",
            "exp_month": 3,
            "exp_year": 2033,
            "last4": "2662",
        }
    },
    "ach_debit": {
        "account_holder_type": "individual",
        "bank_name": "ACH SHAPES BANK",
        "country": "US",
        "fingerprint": "AchFprint1357q",
        "last4": "1357",
        "routing_number": "110000135",
    },
    "ach_credit_transfer": {
        "account_number": "test_52796e3294dc",
        "bank_name": "TEST BANK",
        "routing_number": "110000000",
        "swift_code": "TSTEZ122",
    },
    # A method Stripe launches after this code was written.
    "future_pay": {"account_number": "FUTURE0000111122223333", "holder": "Futura Holder"},
}


def charge_paid_with(method: str) -> dict[str, Any]:
    """Stripe's example charge, paid with `method` (its details as Stripe sends them), with the
    payer's billing details filled in."""
    charge = fixture("charge")
    charge["id"] = f"ch_shapes_{method}"
    charge["billing_details"] = copy.deepcopy(BILLING)
    details = copy.deepcopy(METHOD_DETAILS.get(method, {}))
    charge["payment_method_details"] = {"type": method, method: details}
    charge["payment_method"] = f"pm_shapes_{method}"
    return charge


def every_charge_variant() -> list[dict[str, Any]]:
    methods = sorted(set(payment_method_types()) | set(METHOD_DETAILS))
    return [charge_paid_with(m) for m in methods]
