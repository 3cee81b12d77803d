"""Catalog and customer writes: archive, delete, price edits, lookup keys, and the events with
`previous_attributes` a pipeline merges from."""

from __future__ import annotations

import httpx
import pytest
import stripe


def _last_event(client, event_type: str):
    return client.v1.events.list({"type": event_type, "limit": 1}).data[0]


def test_archiving_a_product_is_an_update_with_previous_attributes(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "Archive me"})
    archived = client.v1.products.update(product.id, {"active": False})
    assert archived.active is False
    event = _last_event(client, "product.updated")
    assert event.data.object.id == product.id
    previous = event.data.previous_attributes.to_dict()
    assert previous["active"] is True


def test_default_price_data_creates_the_price_too(emulator):
    client = emulator.client()
    product = client.v1.products.create(
        {"name": "Bundled", "default_price_data": {"currency": "eur", "unit_amount": 1999}}
    )
    price = client.v1.prices.retrieve(product.default_price)
    assert (price.product, price.currency, price.unit_amount) == (product.id, "eur", 1999)
    assert _last_event(client, "price.created").data.object.id == price.id


def test_a_product_with_prices_cannot_be_deleted(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "Priced"})
    client.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.products.delete(product.id)
    assert raised.value.http_status == 400


def test_deleting_a_product_returns_the_stub_and_sends_product_deleted(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "Gone"})
    stub = client.v1.products.delete(product.id)
    assert stub.deleted is True and stub.id == product.id
    assert client.v1.products.retrieve(product.id).deleted is True
    assert product.id not in [p.id for p in client.v1.products.list({"limit": 100}).data]
    event = _last_event(client, "product.deleted")
    assert event.data.object.name == "Gone"


def test_price_updates_and_no_price_delete(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "P"})
    price = client.v1.prices.create(
        {
            "product": product.id,
            "currency": "usd",
            "unit_amount": 900,
            "recurring": {"interval": "year"},
        }
    )
    assert price.type == "recurring" and price.recurring.interval == "year"
    updated = client.v1.prices.update(
        price.id,
        {"active": False, "nickname": "Yearly", "lookup_key": "yearly", "metadata": {"a": "1"}},
    )
    assert (updated.active, updated.nickname, updated.lookup_key) == (False, "Yearly", "yearly")
    previous = _last_event(client, "price.updated").data.previous_attributes.to_dict()
    assert previous == {"active": True, "nickname": None, "lookup_key": None, "metadata": {}}
    answer = httpx.delete(
        emulator.url(f"/v1/prices/{price.id}"),
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith("Unrecognized request URL")


def test_lookup_keys_are_unique_unless_transferred(emulator):
    client = emulator.client()
    product = client.v1.products.create({"name": "K"})
    base = {"product": product.id, "currency": "usd", "unit_amount": 100}
    first = client.v1.prices.create({**base, "lookup_key": "std"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create({**base, "lookup_key": "std"})
    second = client.v1.prices.create({**base, "lookup_key": "std", "transfer_lookup_key": True})
    assert second.lookup_key == "std"
    assert client.v1.prices.retrieve(first.id).lookup_key is None


def test_metadata_keys_unset_with_an_empty_value(emulator):
    client = emulator.client()
    customer = client.v1.customers.create({"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, {"metadata": {"a": ""}})
    assert updated.metadata.to_dict() == {"b": "2"}


def test_customer_lifecycle_events(emulator):
    client = emulator.client()
    customer = client.v1.customers.create({"email": "c@example.com"})
    client.v1.customers.update(customer.id, {"email": "d@example.com"})
    client.v1.customers.delete(customer.id)
    events = client.v1.events.list({"type": "customer.*", "limit": 3}).data
    assert [e.type for e in events] == ["customer.deleted", "customer.updated", "customer.created"]
    assert events[1].data.previous_attributes.email == "c@example.com"


def test_unknown_parameters_are_refused_as_stripe_does(emulator):
    answer = httpx.post(
        emulator.url("/v1/products"),
        data={"name": "x", "colour": "red"},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Received unknown parameter: colour"
