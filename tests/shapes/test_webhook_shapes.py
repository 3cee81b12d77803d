"""Real Stripe events carrying payment instruments in every place Stripe puts them, posted signed
(the SDK's own scheme) to a real listener on a real SQLite ops store: each is stored with the
hash of its raw body, keeps what the pipeline reads, and nothing any ops store table holds is
card data."""

from __future__ import annotations

import copy
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fixtures.listener import RunningListener, encode
from tests.shapes.shapes import (
    BILLING,
    METHOD_DETAILS,
    Leaves,
    charge_paid_with,
    collect_leaves,
    every_charge_variant,
    find_card_data,
    fixture,
)

CONNECTED = "acct_1ConnectedShapes"


def event(obj: dict[str, Any], type_: str, suffix: str = "", **extra: Any) -> dict[str, Any]:
    out = fixture("event")
    out["id"] = f"evt_shapes_{type_.replace('.', '_')}_{obj.get('id', 'x')}{suffix}"
    out["type"] = type_
    out["api_version"] = "2026-10-28.endive"
    out["data"] = {"object": obj}
    out.update(extra)
    return out


def payment_method(method: str) -> dict[str, Any]:
    pm = fixture("payment_method")
    pm["id"] = f"pm_shapes_{method}"
    pm["billing_details"] = copy.deepcopy(BILLING)
    pm.pop("card", None)
    pm["type"] = method
    pm[method] = copy.deepcopy(METHOD_DETAILS[method])
    return pm


def card_bearing_events() -> list[dict[str, Any]]:
    """Events of every kind that carries a payment instrument, with Stripe's shapes."""
    charge = fixture("charge")  # a card, and a legacy `source` object
    events = [event(charge, "charge.succeeded")]
    events += [event(c, "charge.succeeded") for c in every_charge_variant()]

    updated = event(charge_paid_with("card"), "charge.updated")
    updated["data"]["previous_attributes"] = {
        "billing_details": {"name": "Old Cardholder Name", "email": "old.holder@example.com"},
        "payment_method_details": {"card": {"last4": "1117", "exp_year": 2029}},
        "description": None,
    }
    events.append(updated)

    events.append(event(fixture("payment_method"), "payment_method.attached", account=CONNECTED))
    pm_updated = event(fixture("payment_method"), "payment_method.updated", "_prev")
    pm_updated["data"]["previous_attributes"] = {
        "card": {"exp_month": 7, "exp_year": 2027, "checks": {"cvc_check": "unchecked"}},
        "billing_details": {"address": {"line1": "1 Previous Road"}, "name": "Prev Name"},
    }
    events.append(pm_updated)
    sepa_updated = event(payment_method("sepa_debit"), "payment_method.updated")
    sepa_updated["data"]["previous_attributes"] = {
        "sepa_debit": {"last4": "9911", "fingerprint": "PrevSepaFprint99"}
    }
    events.append(sepa_updated)
    for method in ("us_bank_account", "card_present", "paypal", "ideal", "future_pay"):
        events.append(event(payment_method(method), "payment_method.attached", account=CONNECTED))

    events.append(event(fixture("card"), "customer.source.created"))
    events.append(event(fixture("bank_account"), "customer.source.created"))
    events.append(event(fixture("source"), "source.chargeable"))
    customer = fixture("customer")
    customer["sources"] = {
        "object": "list",
        "data": [fixture("card"), fixture("bank_account")],
        "has_more": False,
        "url": f"/v1/customers/{customer['id']}/sources",
    }
    customer["default_source"] = fixture("card")
    customer["invoice_settings"]["default_payment_method"] = payment_method("sepa_debit")
    events.append(event(customer, "customer.updated"))
    events.append(
        event(fixture("bank_account"), "account.external_account.created", account=CONNECTED)
    )

    intent = fixture("payment_intent")
    intent["last_payment_error"] = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "type": "card_error",
        "payment_method": payment_method("card_present"),
        "source": fixture("card"),
    }
    intent["payment_method"] = payment_method("us_bank_account")
    events.append(event(intent, "payment_intent.payment_failed", account=CONNECTED))

    setup_attempt = fixture("setup_attempt")
    setup_attempt["payment_method_details"]["card"].update(
        {"last4": "5566", "fingerprint": "SetupFprint5566", "exp_month": 2, "exp_year": 2032}
    )
    events.append(event(setup_attempt, "setup_intent.succeeded"))
    events.append(event(fixture("dispute"), "charge.dispute.created"))
    events.append(event(fixture("mandate"), "mandate.updated"))
    events.append(event(fixture("issuing.card"), "issuing_card.created"))
    authorization = fixture("issuing.authorization")
    events.append(event(authorization, "issuing_authorization.request"))
    confirmation = fixture("confirmation_token")
    events.append(event(confirmation, "confirmation_token.created"))
    events.append(event(fixture("deleted_product"), "product.deleted"))
    return events


def stored_texts(database: Path) -> Iterator[tuple[str, str]]:
    """Every text value of every table of the ops store."""
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            cur = con.execute(f'select * from "{table}"')
            names = [d[0] for d in cur.description]
            for row in cur.fetchall():
                for name, value in zip(names, row, strict=True):
                    if isinstance(value, str):
                        yield f"{table}.{name}", value
    finally:
        con.close()


def ops_database(listener: RunningListener) -> Path:
    url = listener.settings.ops_database_url
    assert url.startswith("sqlite:///")
    return Path(url.removeprefix("sqlite:///"))


def leaves_of(items: list[Any]) -> Leaves:
    leaves = Leaves()
    for item in items:
        leaves.merge(collect_leaves(item))
    return leaves


@pytest.fixture
def posted(listener: RunningListener) -> tuple[RunningListener, list[dict[str, Any]]]:
    events = card_bearing_events()
    for item in events:
        body = encode(item)
        answer = listener.post_event(body)
        assert answer.status_code == 200, (item["type"], answer.text)
        assert answer.json()["outcome"] == "stored", item["id"]
        stored = listener.store.webhook_event(item["id"])
        assert stored.payload_hash == hashlib.sha256(body).hexdigest()
        assert stored.account_id == item.get("account")
    return listener, events


def test_nothing_the_listener_stores_is_card_data(posted) -> None:
    listener, events = posted
    leaves = leaves_of(events)
    # The events did carry card data, of every kind the scan knows about. ("Jenny Rosen", the
    # example card's holder, is also the example confirmation token's shipping name, and the
    # example bank account's last4 "6789" is part of the example timestamp 1234567890: both are
    # legitimately elsewhere, so not looked for.)
    secrets = set(leaves.secrets())
    for value in ("4242", "AOB934RVNwzk6xtn", "AuoSJ18zsVWV9SPc", "110000000", "Jane Austen",
                  "7301", "SepaFprint7301x", "JENNY Q CARDHOLDER", "8421", "1117", "Prev Name",
                  "9911", "paula.payer@example.com", "4312", "5566", "test_52796e3294dc",
                  "742 Evergreen Terrace", "FUTURE0000111122223333"):  # fmt: skip
        assert value in secrets, value

    hits = find_card_data(leaves, stored_texts(ops_database(listener)))

    assert not hits, f"card data stored by the listener: {hits[:25]}"


def test_stored_events_keep_what_the_pipeline_reads(posted) -> None:
    listener, events = posted
    for item in events:
        stored = orjson.loads(listener.store.webhook_event(item["id"]).payload)
        assert (stored["id"], stored["type"], stored.get("account")) == (
            item["id"], item["type"], item.get("account"),
        )  # fmt: skip
        obj, kept = item["data"]["object"], stored["data"]["object"]
        assert (kept["id"], kept["object"]) == (obj["id"], obj["object"]), item["id"]
        if obj.get("deleted"):
            assert kept == obj
        if obj["object"] == "charge":
            details = obj["payment_method_details"]
            method = details["type"]
            assert kept["payment_method_details"]["type"] == method
            assert (kept["amount"], kept["currency"], kept["status"]) == (
                obj["amount"], obj["currency"], obj["status"],
            )  # fmt: skip
            assert kept["metadata"] == obj["metadata"]
            if method in ("card", "card_present", "interac_present"):
                card = kept["payment_method_details"][method]
                assert card == {k: details[method][k] for k in ("brand", "funding", "country")}
        if obj["object"] == "payment_method":
            assert kept["type"] == obj["type"]
    intent = next(e for e in events if e["type"] == "payment_intent.payment_failed")
    kept = listener.store.webhook_event(intent["id"]).data_object()
    assert kept["last_payment_error"]["code"] == "card_declined"
    assert kept["amount"] == intent["data"]["object"]["amount"]


def test_a_conflicting_redelivery_stores_no_card_data_either(listener: RunningListener) -> None:
    first = event(charge_paid_with("card"), "charge.succeeded")
    second = copy.deepcopy(first)
    second["data"]["object"]["payment_method_details"] = {
        "type": "sepa_debit", "sepa_debit": METHOD_DETAILS["sepa_debit"],
    }  # fmt: skip
    assert listener.post_event(first).json()["outcome"] == "stored"
    assert listener.post_event(second).json()["outcome"] == "conflict"

    hits = find_card_data(leaves_of([first, second]), stored_texts(ops_database(listener)))

    assert not hits, hits
    assert len(listener.store.webhook_conflicts()) == 1


def test_a_thin_v2_event_is_refused_with_a_400_not_a_server_error(
    listener: RunningListener,
) -> None:
    thin = {
        "id": "evt_test_65R9Ijk8sX2bS1thin",
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "livemode": False,
        "created": "2026-07-29T06:20:52.246Z",
        "context": CONNECTED,
        "related_object": {
            "id": "mtr_test_61R9I",
            "type": "billing.meter",
            "url": "/v1/billing/meters/mtr_test_61R9I",
        },
    }
    answer = listener.post_event(thin)
    # Today the listener refuses what is not a v1 `event` (Stripe retries a 400); it must never
    # answer 5xx or store a half-parsed row.
    assert answer.status_code == 400, answer.text
    assert listener.store.webhook_event(thin["id"]) is None


def test_the_scan_finds_card_data_in_an_unscrubbed_store(listener: RunningListener) -> None:
    """The check can fail: a payload stored without the scrubber is caught."""
    item = event(charge_paid_with("sepa_debit"), "charge.succeeded")
    body = encode(item)
    listener.store.record_webhook_event(
        event_id=item["id"], type=item["type"], payload_hash=hashlib.sha256(body).hexdigest(),
        payload=body.decode(),
    )  # fmt: skip

    found = {
        v for _, v, _ in find_card_data(leaves_of([item]), stored_texts(ops_database(listener)))
    }

    assert {"7301", "SepaFprint7301x", "37040044", "Jenny Q. Cardholder", "4242"} & found == {
        "7301", "SepaFprint7301x", "37040044", "Jenny Q. Cardholder",
    }  # fmt: skip


def test_payer_contact_fields_where_a_cardholder_name_repeats_are_not_stored(posted) -> None:
    # Stripe's example cardholder "Jenny Rosen" stands again as a shipping name; shipping,
    # receipt and customer contact fields are dropped with billing details, so no copy survives.
    listener, events = posted
    assert any("Jenny Rosen" in encode(item).decode() for item in events)
    texts = stored_texts(ops_database(listener))
    assert not [text for text in texts if "Jenny Rosen" in str(text)]
