"""The stripe SDK, unchanged but for its base addresses, creates, lists, pages, retrieves and
expands against the emulator as it would against Stripe."""

from __future__ import annotations

import stripe


def test_create_then_retrieve_and_list_newest_first(emulator):
    client = emulator.client()
    first = client.v1.products.create({"name": "First", "metadata": {"app_product_id": "p-1"}})
    second = client.v1.products.create({"name": "Second"})

    assert isinstance(first, stripe.Product)
    assert client.v1.products.retrieve(first.id).metadata["app_product_id"] == "p-1"
    newest = client.v1.products.list({"limit": 2}).data
    assert [p.id for p in newest] == [second.id, first.id]


def test_auto_paging_iter_walks_every_page_once(emulator):
    client = emulator.client(stripe_account=emulator.connected_account_ids[0])
    charges = list(client.v1.charges.list({"limit": 7}).auto_paging_iter())
    ids = [c.id for c in charges]
    assert len(ids) == len(set(ids)) >= 50
    created = [c.created for c in charges]
    assert created == sorted(created, reverse=True)


def test_new_objects_page_in_with_the_generated_ones(emulator):
    client = emulator.client()
    before = {c.id for c in client.v1.customers.list({"limit": 100}).auto_paging_iter()}
    made = client.v1.customers.create({"email": "paged@example.com"})
    after = [c.id for c in client.v1.customers.list({"limit": 5}).auto_paging_iter()]
    assert set(after) == before | {made.id}
    assert after[0] == made.id


def test_expand_on_retrieve_and_on_create(emulator):
    client = emulator.client()
    intent = client.v1.payment_intents.create(
        {
            "amount": 4200,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "expand": ["latest_charge.balance_transaction"],
        }
    )
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert isinstance(charge.balance_transaction, stripe.BalanceTransaction)
    assert charge.balance_transaction.source == charge.id

    again = client.v1.charges.retrieve(charge.id, {"expand": ["payment_intent"]})
    assert again.payment_intent.id == intent.id


def test_list_filters_and_created_ranges_see_api_made_objects(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "Filtered"})
    price = client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 500})
    listed = client.v1.prices.list({"product": product.id})
    assert [p.id for p in listed.data] == [price.id]
    recent = client.v1.products.list({"created": {"gte": product.created}, "limit": 100})
    assert product.id in [p.id for p in recent.data]


def test_events_list_carries_the_writes(emulator):
    client = emulator.client()
    customer = client.v1.customers.create({"email": "ev@example.com"})
    client.v1.customers.update(customer.id, {"name": "Renamed"})
    events = client.v1.events.list({"types": ["customer.created", "customer.updated"], "limit": 5})
    kinds = [(e.type, e.data.object.id) for e in events.data[:2]]
    assert kinds == [("customer.updated", customer.id), ("customer.created", customer.id)]
    updated = events.data[0]
    assert updated.data.previous_attributes.to_dict() == {"name": None}
    assert updated.request.id.startswith("req_")
    assert updated.api_version == "2026-10-28.endive"


def test_connected_account_writes_stay_in_that_account(emulator):
    account_id = emulator.connected_account_ids[0]
    connected = emulator.client(stripe_account=account_id)
    product = connected.v1.products.create({"name": "Theirs"})
    with __import__("pytest").raises(stripe.InvalidRequestError) as raised:
        emulator.client().v1.products.retrieve(product.id)
    assert raised.value.http_status == 404
    event = connected.v1.events.list({"type": "product.created", "limit": 1}).data[0]
    assert event.account == account_id
