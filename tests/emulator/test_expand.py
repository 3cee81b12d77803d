"""expand[]: ids become objects where Stripe allows it, in lists through `data.`."""

from __future__ import annotations

from tests.emulator.helpers import get


def test_charges_list_expands_balance_transactions(emulator):
    body = get(
        emulator, "/v1/charges", {"limit": 20, "expand[]": "data.balance_transaction"}
    ).json()
    succeeded = [c for c in body["data"] if c["status"] == "succeeded"]
    assert succeeded
    for charge in succeeded:
        bt = charge["balance_transaction"]
        assert bt["object"] == "balance_transaction" and bt["source"] == charge["id"]
    for charge in body["data"]:
        if charge["status"] == "failed":
            assert charge["balance_transaction"] is None


def test_retrieve_expands_nested_paths(emulator):
    refund = get(emulator, "/v1/refunds", {"limit": 1}).json()["data"][0]
    body = get(
        emulator,
        f"/v1/refunds/{refund['id']}",
        [("expand[]", "balance_transaction"), ("expand[]", "charge.payment_intent")],
    ).json()
    assert body["balance_transaction"]["amount"] < 0
    assert body["charge"]["object"] == "charge"
    assert body["charge"]["payment_intent"]["object"] == "payment_intent"


def test_payment_intent_latest_charge_and_customer(emulator):
    pis = get(emulator, "/v1/payment_intents", {"limit": 30}).json()["data"]
    pi = next(p for p in pis if p["customer"])
    body = get(
        emulator,
        f"/v1/payment_intents/{pi['id']}",
        [("expand[]", "latest_charge"), ("expand[]", "customer")],
    ).json()
    assert body["latest_charge"]["payment_intent"] == pi["id"]
    assert body["customer"]["object"] == "customer" and body["customer"]["id"] == pi["customer"]


def test_balance_transaction_source_and_price_product(emulator):
    bts = get(emulator, "/v1/balance_transactions", {"limit": 50, "expand[]": "data.source"}).json()
    # Stripe's own fees (type stripe_fee) and balance corrections have no source.
    kinds = {bt["source"]["object"] for bt in bts["data"] if bt["source"] is not None}
    assert "charge" in kinds
    price = get(emulator, "/v1/prices", {"limit": 1, "expand[]": "data.product"}).json()["data"][0]
    assert price["product"]["object"] == "product"
    product = get(emulator, "/v1/products", {"limit": 10, "expand[]": "data.default_price"}).json()
    assert any(isinstance(p["default_price"], dict) for p in product["data"])


def test_sdk_expand_gives_typed_objects(emulator):
    client = emulator.client()
    page = client.v1.charges.list({"limit": 5, "expand": ["data.balance_transaction"]})
    charge = next(c for c in page.data if c.status == "succeeded")
    assert (
        charge.balance_transaction.net
        == charge.balance_transaction.amount - charge.balance_transaction.fee
    )


def test_expansion_deeper_than_four_levels_is_refused(emulator):
    refund = get(emulator, "/v1/refunds", {"limit": 1}).json()["data"][0]
    response = get(
        emulator,
        f"/v1/refunds/{refund['id']}",
        {"expand[]": "charge.payment_intent.latest_charge.customer.x"},
    )
    assert response.status_code == 400


def test_charge_refunds_are_included_only_when_expanded(emulator):
    refund = get(emulator, "/v1/refunds", {"limit": 1}).json()["data"][0]
    plain = get(emulator, f"/v1/charges/{refund['charge']}").json()
    assert "refunds" not in plain
    body = get(emulator, f"/v1/charges/{refund['charge']}", {"expand[]": "refunds"}).json()
    assert body["refunds"]["object"] == "list"
    assert [r["id"] for r in body["refunds"]["data"]] == [refund["id"]]
