"""Every webhook the emulator sends verifies with the SDK's own `stripe.Webhook.construct_event`,
reaches the right endpoints (Connect events the platform's Connect endpoints, with `account`),
and is retried when the listener fails."""

from __future__ import annotations

import time

import pytest
import stripe

from stripe_emulator import webhooks


def _pay(client, payment_method: str = "pm_card_visa", **extra):
    params = {"amount": 2500, "currency": "usd", "payment_method": payment_method, "confirm": True}
    return client.v1.payment_intents.create({**params, **extra})


def test_every_delivered_event_verifies_with_the_sdk(emulator, webhook_receiver):
    client = emulator.client()
    endpoint = client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["*"]}
    )
    assert endpoint.secret.startswith("whsec_")
    assert "secret" not in client.v1.webhook_endpoints.retrieve(endpoint.id)

    product = client.v1.products.create({"name": "Signed"})
    client.v1.products.update(product.id, {"name": "Signed twice"})
    intent = _pay(client)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 100})

    wanted = ("product.created", "product.updated", "charge.succeeded", "charge.refunded")
    webhook_receiver.wait_for_types(*wanted, "payment_intent.succeeded", "refund.created")
    for delivery in webhook_receiver.received:
        header = delivery.headers["Stripe-Signature"]
        assert header.startswith("t=") and ",v1=" in header
        event = stripe.Webhook.construct_event(delivery.body, header, endpoint.secret)
        assert event.api_version == emulator.store.api_version
        assert event.livemode is False
        assert "account" not in event  # the platform's own events carry no account
    updated = next(
        r.event for r in webhook_receiver.received if r.event["type"] == "product.updated"
    )
    assert updated["data"]["previous_attributes"]["name"] == "Signed"


def test_a_wrong_secret_fails_verification(emulator, webhook_receiver):
    client = emulator.client()
    client.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["*"]})
    client.v1.customers.create({"email": "x@example.com"})
    delivery = webhook_receiver.wait_for(lambda rs: len(rs) >= 1)[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], "whsec_not_the_secret"
        )


def test_enabled_events_filter_what_an_endpoint_receives(emulator, webhook_receiver):
    client = emulator.client()
    client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["customer.created"]}
    )
    client.v1.products.create({"name": "Not for this endpoint"})
    client.v1.customers.create({"email": "y@example.com"})
    webhook_receiver.wait_for_types("customer.created")
    assert webhooks.state(emulator.store).dispatcher.wait_idle(5)
    assert {e["type"] for e in webhook_receiver.events()} == {"customer.created"}


def test_connected_accounts_events_reach_the_platforms_connect_endpoint(emulator, webhook_receiver):
    platform = emulator.client()
    endpoint = platform.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["*"], "connect": True}
    )
    account_id = emulator.connected_account_ids[1]
    _pay(emulator.client(stripe_account=account_id))
    platform.v1.customers.create({"email": "platform-own@example.com"})  # not a Connect event

    events = webhook_receiver.wait_for_types("payment_intent.succeeded")
    assert webhooks.state(emulator.store).dispatcher.wait_idle(5)
    events = webhook_receiver.events()
    assert events and all(e["account"] == account_id for e in events)
    for delivery in webhook_receiver.received:
        stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], endpoint.secret
        )


def test_failed_deliveries_are_retried_until_accepted(emulator, webhook_receiver):
    webhooks.configure(emulator.store, base_delay=0.02, jitter=0.0)
    webhook_receiver.fail_first = 2
    client = emulator.client()
    client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["customer.created"]}
    )
    customer = client.v1.customers.create({"email": "retry@example.com"})

    events = webhook_receiver.wait_for_types("customer.created")
    assert webhook_receiver.requests_seen == 3
    assert events[0]["data"]["object"]["id"] == customer.id
    assert webhooks.state(emulator.store).dispatcher.wait_idle(5)
    stored = client.v1.events.retrieve(events[0]["id"])
    assert stored.pending_webhooks == 0


def test_webhook_url_option_registers_a_listener_for_everything(make_emulator, webhook_receiver):
    secret = "whsec_startup_secret_for_tests"
    emu = make_emulator(webhook_url=webhook_receiver.url, webhook_secret=secret)
    emu.client().v1.customers.create({"email": "own@example.com"})
    emu.client(stripe_account=emu.connected_account_ids[0]).v1.customers.create(
        {"email": "connected@example.com"}
    )
    webhook_receiver.wait_for(lambda rs: len(rs) >= 2)
    accounts = set()
    for delivery in webhook_receiver.received:
        event = stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], secret
        )
        accounts.add(event.to_dict().get("account"))
    assert accounts == {None, emu.connected_account_ids[0]}


def test_signature_timestamp_is_fresh(emulator, webhook_receiver):
    client = emulator.client()
    client.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["*"]})
    client.v1.customers.create({})
    delivery = webhook_receiver.wait_for(lambda rs: len(rs) >= 1)[0]
    stamp = int(delivery.headers["Stripe-Signature"].split(",")[0][2:])
    assert abs(stamp - time.time()) < 30
