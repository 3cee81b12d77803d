"""The generator: deterministic, shaped like Stripe's objects, and consistent money."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stripe_emulator import generator
from stripe_emulator.store import ListQuery, Store, StoreOptions
from tests.fixtures.services import require_service

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "fixtures-2026-07-29.json"
END = 1_790_000_000 - 1_790_000_000 % 86_400


def everything(account, object_type):
    out, cursor = [], None
    while True:
        page = account.list(object_type, ListQuery(limit=100, starting_after=cursor))
        out += page.data
        if not page.has_more:
            return out
        cursor = out[-1]["id"]


@pytest.fixture(scope="module")
def store() -> Store:
    return Store.generate(StoreOptions(seed=11, accounts=2, charges=800, end=END))


def test_same_seed_gives_the_same_objects():
    a = Store.generate(StoreOptions(seed=5, accounts=1, charges=200, end=END))
    b = Store.generate(StoreOptions(seed=5, accounts=1, charges=200, end=END))
    c = Store.generate(StoreOptions(seed=6, accounts=1, charges=200, end=END))
    assert a.platform_id == b.platform_id != c.platform_id
    for object_type in ("charge", "balance_transaction", "refund", "dispute", "event", "price"):
        assert everything(a.platform, object_type) == everything(b.platform, object_type)
    assert everything(a.platform, "charge") != everything(c.platform, "charge")


def test_objects_carry_every_field_of_stripes_examples(store):
    require_service(
        FIXTURES.exists(),
        f"Stripe's example objects are not at {FIXTURES} (CI-only reference data, outside the project)",
    )
    examples = json.loads(FIXTURES.read_text())["resources"]
    account = store.platform
    mapping = {
        "charge": "charge",
        "balance_transaction": "balance_transaction",
        "refund": "refund",
        "dispute": "dispute",
        "product": "product",
        "price": "price",
        "customer": "customer",
        "payment_intent": "payment_intent",
        "invoice": "invoice",
        "event": "event",
    }
    # Fields Stripe's example has that are not sent in this API version or only when expanded.
    # (invoice.subscription: gone from the SDK's Invoice; it lives in parent.subscription_details)
    absent_on_purpose = {
        "charge": {"refunds"},
        "invoice": {"subscription"},
        "customer": {
            "sources",
            "subscriptions",
            "tax_ids",
            "tax",
            "cash_balance",
            "invoice_credit_balance",
        },
    }
    for object_type, example_name in mapping.items():
        if object_type == "event":  # this store's history ended long ago: no listable events
            obj = account.streams["event"][0].render(1)
        else:
            obj = account.list(object_type, ListQuery(limit=1)).data[0]
        missing = set(examples[example_name]) - set(obj) - absent_on_purpose.get(object_type, set())
        assert not missing, f"{object_type} lacks {sorted(missing)}"
        assert obj["object"] == object_type


def test_charges_carry_card_details_and_billing_details(store):
    charge = store.platform.list("charge", ListQuery(limit=1)).data[0]
    card = charge["payment_method_details"]["card"]
    for key in ("brand", "funding", "country", "last4", "exp_month", "exp_year", "fingerprint"):
        assert card[key] is not None
    assert set(charge["billing_details"]) == {"address", "email", "name", "phone", "tax_id"}
    assert "invoice" not in charge


def test_succeeded_charges_net_is_amount_minus_fee_and_declined_cards_have_none(store):
    # A declined card moves no money; a bank debit has its `payment` balance transaction from
    # the start (pending), and keeps it when the bank returns it
    # (https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment).
    for account in store.accounts.values():
        charges = everything(account, "charge")
        assert any(c["status"] == "failed" for c in charges)
        for charge in charges:
            bt_id = charge["balance_transaction"]
            if charge["payment_method_details"]["type"] == "card" and charge["status"] == "failed":
                assert bt_id is None
                continue
            bt = account.lookup("balance_transaction", bt_id)
            assert bt["net"] == bt["amount"] - bt["fee"]
            assert bt["fee"] == sum(f["amount"] for f in bt["fee_details"])
            assert bt["currency"] == account.default_currency
            if charge["currency"] == bt["currency"]:
                assert bt["amount"] == charge["amount"] and bt["exchange_rate"] is None
            else:
                assert bt["exchange_rate"] is not None


def test_jpy_amounts_are_not_multiplied_by_a_hundred(store):
    jpy = [c for c in everything(store.platform, "charge") if c["currency"] == "jpy"]
    assert jpy
    prices = {
        p["unit_amount"] for p in everything(store.platform, "price") if p["currency"] == "jpy"
    }
    assert all(c["amount"] in prices for c in jpy)
    assert all(c["amount"] < 20_000 for c in jpy)
    usd_account = store.platform
    bt = usd_account.lookup("balance_transaction", jpy[0]["balance_transaction"])
    if bt:  # ¥9,800 is about $66: a settlement in cents, with the JPY->USD rate
        assert bt["amount"] == round(jpy[0]["amount"] * bt["exchange_rate"] * 100)


def test_refunds_have_negative_balance_transactions_and_update_the_charge(store):
    account = store.platform
    refunds = everything(account, "refund")
    assert refunds
    assert any(r["amount"] < account.lookup("charge", r["charge"])["amount"] for r in refunds)
    for refund in refunds:
        bt = account.lookup("balance_transaction", refund["balance_transaction"])
        assert bt["amount"] < 0 and bt["reporting_category"] == "refund"
        # card refunds are type refund, other methods' payment_refund
        # (https://docs.stripe.com/reports/balance-transaction-types)
        assert bt["type"] in ("refund", "payment_refund")
        assert bt["net"] == bt["amount"] and bt["source"] == refund["id"]
        charge = account.lookup("charge", refund["charge"])
        # A failed refund gives the money back: the charge is no longer refunded by it.
        refunded = 0 if refund["status"] == "failed" else refund["amount"]
        assert charge["amount_refunded"] == refunded
        assert charge["refunded"] == (refunded == charge["amount"])
        assert refund["created"] > charge["created"]


def test_lost_and_won_disputes_have_their_balance_transactions(store):
    disputes = [d for a in store.accounts.values() for d in everything(a, "dispute")]
    statuses = {d["status"] for d in disputes}
    assert {"won", "lost"} <= statuses
    for dispute in disputes:
        bts = dispute["balance_transactions"]
        withdrawal = bts[0]
        assert withdrawal["reporting_category"] == "dispute"
        assert withdrawal["fee"] > 0 and withdrawal["amount"] < 0
        assert withdrawal["net"] == withdrawal["amount"] - withdrawal["fee"]
        if dispute["status"] == "won":
            assert [bt["reporting_category"] for bt in bts] == ["dispute", "dispute_reversal"]
            assert bts[1]["amount"] == -withdrawal["amount"]
        else:
            assert len(bts) == 1
        if dispute["currency"] == "usd" and withdrawal["currency"] == "usd":
            assert withdrawal["fee"] == 1500


def test_balance_transactions_list_merges_charges_refunds_and_disputes(store):
    bts = everything(store.platform, "balance_transaction")
    categories = {bt["reporting_category"] for bt in bts}
    assert {"charge", "refund", "dispute", "dispute_reversal"} <= categories
    created = [bt["created"] for bt in bts]
    assert created == sorted(created, reverse=True)


def test_some_payments_carry_host_app_ids_and_catalog_documents_them(store):
    cat = generator.catalog(11, 0)
    assert cat.account_id == store.platform_id
    assert any(p.app_product_id is None for p in cat.products)
    assert any(p.app_price_id is None for p in cat.prices)
    app_price_ids = {p.app_price_id for p in cat.prices if p.app_price_id}
    charges = everything(store.platform, "charge")
    tagged = [c for c in charges if c["metadata"]]
    assert 0.3 < len(tagged) / len(charges) < 0.8
    for charge in tagged:
        assert charge["metadata"]["app_price_id"] in app_price_ids
        assert charge["metadata"]["app_project_id"] == "project-0"
    products = {p["id"]: p for p in everything(store.platform, "product")}
    for product in cat.products:
        if product.deleted:
            assert product.id not in products
            assert store.platform.lookup("product", product.id)["deleted"] is True
            continue
        assert products[product.id]["metadata"].get("app_product_id") == product.app_product_id


def test_invoices_have_lines_with_price_details(store):
    invoices = everything(store.platform, "invoice")
    assert invoices
    prices = {p["id"]: p for p in everything(store.platform, "price")}
    for invoice in invoices[:50]:
        line = invoice["lines"]["data"][0]
        price = prices[line["pricing"]["price_details"]["price"]]
        assert price["type"] == "recurring"
        assert line["pricing"]["price_details"]["product"] == price["product"]
        assert invoice["customer"]


def test_every_generated_event_carries_the_object_its_type_names():
    store = Store.generate(StoreOptions(seed=4, accounts=1, charges=400, days=25))
    for account in store.accounts.values():
        events = everything(account, "event")
        assert events
        for event in events:
            stream, _ = account.decode(event["id"])
            assert event["type"] in stream.event_types
            obj = event["data"]["object"]
            head = event["type"].rsplit(".", 1)[0]
            expected = {"charge.dispute": "dispute"}.get(head, head)
            assert obj["object"] == expected, event["type"]
            assert account.lookup(expected, obj["id"]) is not None or expected == "product"
        failed = [e for e in events if e["type"] == "invoice.payment_failed"]
        assert all(e["data"]["object"]["status"] == "open" for e in failed)
