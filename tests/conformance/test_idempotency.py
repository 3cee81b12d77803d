"""Idempotency-Key on POSTs, as Stripe honours it: the same key and body replay the first
answer (no second object, no second event); the same key with another body is a 400."""

from __future__ import annotations

import httpx
import pytest
import stripe


def _post(emu, path: str, data: dict, key: str) -> httpx.Response:
    return httpx.post(
        emu.url(path),
        data=data,
        headers={"Authorization": f"Bearer {emu.api_key}", "Idempotency-Key": key},
    )


def test_same_key_same_body_replays_the_first_answer(emulator):
    first = _post(emulator, "/v1/customers", {"email": "jenny@example.com"}, "key-1")
    again = _post(emulator, "/v1/customers", {"email": "jenny@example.com"}, "key-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    events = emulator.client().v1.events.list({"type": "customer.created", "limit": 100})
    created = [e for e in events.data if e.data.object.id == first.json()["id"]]
    assert len(created) == 1
    assert created[0].request.idempotency_key == "key-1"


def test_same_key_other_body_is_an_idempotency_error(emulator):
    _post(emulator, "/v1/customers", {"email": "a@example.com"}, "key-2")
    other = _post(emulator, "/v1/customers", {"email": "b@example.com"}, "key-2")

    assert other.status_code == 400
    error = other.json()["error"]
    assert error["type"] == "idempotency_error"
    assert "key-2" in error["message"]


def test_the_sdk_raises_idempotency_error(emulator):
    client = emulator.client()
    client.v1.products.create({"name": "A"}, {"idempotency_key": "key-3"})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.products.create({"name": "B"}, {"idempotency_key": "key-3"})


def test_a_declined_payment_replays_its_402(emulator):
    data = {
        "amount": "1000",
        "currency": "usd",
        "payment_method": "pm_card_chargeDeclined",
        "confirm": "true",
    }
    first = _post(emulator, "/v1/payment_intents", data, "key-4")
    again = _post(emulator, "/v1/payment_intents", data, "key-4")
    assert first.status_code == again.status_code == 402
    assert (
        again.json()["error"]["payment_intent"]["id"]
        == first.json()["error"]["payment_intent"]["id"]
    )


def test_keys_are_scoped_per_account(emulator):
    first = _post(emulator, "/v1/customers", {"email": "c@example.com"}, "key-5")
    connected = httpx.post(
        emulator.url("/v1/customers"),
        data={"email": "c@example.com"},
        headers={
            "Authorization": f"Bearer {emulator.api_key}",
            "Idempotency-Key": "key-5",
            "Stripe-Account": emulator.connected_account_ids[0],
        },
    )
    assert connected.status_code == 200
    assert connected.json()["id"] != first.json()["id"]
