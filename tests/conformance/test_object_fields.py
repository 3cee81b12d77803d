"""Every field of every object the emulator serves exists on the stripe SDK's typed resource
class (stripe 16.1, API 2026-10-28.endive): a pipeline built against the SDK meets no field
Stripe would not send."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stripe_emulator.testing import run_emulator
from tests.conformance import samples
from tests.conformance.sdk_shapes import resource_class, unknown_fields

EXPECTED_TYPES = {
    "product",
    "price",
    "customer",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "balance_transaction",
    "invoice",
    "line_item",
    "event",
    "webhook_endpoint",
    "account",
    "payout",
    "application_fee",
    "invoice_payment",
    "balance",
}


@pytest.fixture(scope="module")
def emulated() -> Iterator[dict[str, list[dict[str, Any]]]]:
    # 300 charges: enough for a bank debit, a failed refund and a failed payout in the sample.
    with run_emulator(seed=5, accounts=1, charges=300) as emu:
        yield samples.collect(emu)


def test_samples_cover_every_emulated_type(emulated):
    assert set(emulated) >= EXPECTED_TYPES


@pytest.mark.parametrize("object_type", sorted(EXPECTED_TYPES))
def test_fields_exist_on_the_sdk_class(emulated, object_type):
    cls = resource_class(object_type)
    assert cls is not None, f"the SDK has no class for {object_type!r}"
    unknown: set[str] = set()
    for obj in emulated[object_type]:
        if obj.get("deleted"):
            continue
        unknown.update(unknown_fields(obj, cls, cls.__name__))
    assert not unknown, f"fields the SDK's {cls.__name__} does not know: {sorted(unknown)}"


def test_deleted_stubs_are_stripes(emulated):
    deleted = [o for o in emulated["product"] if o.get("deleted")]
    assert deleted and all(set(o) == {"id", "object", "deleted"} for o in deleted)


def test_samples_cover_the_money_variants(emulated):
    # The shapes checked above include every kind of money movement the emulator serves.
    bt_types = {bt["type"] for bt in emulated["balance_transaction"]}
    assert {"charge", "payment", "refund", "adjustment", "stripe_fee", "payout"} <= bt_types
    methods = {c["payment_method_details"]["type"] for c in emulated["charge"]}
    assert {"us_bank_account", "sepa_debit"} & methods
    assert {c["status"] for c in emulated["charge"]} >= {"succeeded", "failed"}
    assert {p["status"] for p in emulated["payout"]} >= {"paid"}
