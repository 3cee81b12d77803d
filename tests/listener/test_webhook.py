"""POST /api/integrations/stripe/webhook: only Stripe-signed events get in, each exactly once,
stored before the 2xx, without card data."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import httpx
import orjson

from stripe_pipeline.ops_store import Outcome
from tests.fixtures.listener import (
    TEST_WEBHOOK_SECRET,
    WEBHOOK_PATH,
    charge_succeeded_event,
    encode,
    new_secret,
    sign,
)


def test_a_signed_charge_event_is_stored_with_its_raw_body_hash_and_answered_200(listener) -> None:
    event = charge_succeeded_event()
    body = encode(event)
    answer = listener.post_event(body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "id": event["id"], "outcome": "stored"}
    stored = listener.store.webhook_event(event["id"])
    assert stored is not None
    assert stored.type == "charge.succeeded"
    assert stored.status == "received"
    assert stored.account_id is None  # the platform's own event
    assert stored.payload_hash == hashlib.sha256(body).hexdigest()
    assert stored.data_object()["amount"] == 2000
    assert [e.id for e in listener.store.pending_webhook_events()] == [event["id"]]


def test_card_details_are_scrubbed_from_the_stored_payload_to_the_allow_list(listener) -> None:
    event = charge_succeeded_event()
    assert listener.post_event(event).status_code == 200
    stored = listener.store.webhook_event(event["id"])
    card = stored.data_object()["payment_method_details"]["card"]
    assert card == {"brand": "visa", "funding": "credit", "country": "US"}
    for secretish in (
        "4242",
        "Xt5EWLLDS7FJjR1c",
        "exp_month",
        "exp_year",
        "fingerprint",
        "cvc_check",
    ):
        assert secretish not in stored.payload
    # what the pipeline needs is still there
    assert stored.data_object()["payment_method_details"]["type"] == "card"
    assert stored.data_object()["metadata"]["app_sku_id"] == "sku_9"


def test_a_replayed_delivery_answers_200_and_stores_nothing_new(listener) -> None:
    event = charge_succeeded_event()
    body = encode(event)
    assert listener.post_event(body).json()["outcome"] == "stored"
    # Stripe re-signs each retry with a fresh timestamp; the body is the same bytes.
    again = listener.post_event(body, timestamp=int(time.time()) + 1)
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert listener.store.count_webhook_events() == 1
    assert listener.store.webhook_conflicts() == []


def test_same_id_with_a_different_payload_is_recorded_as_conflict_not_applied(listener) -> None:
    original = charge_succeeded_event("evt_conflict_1", amount=2000)
    tampered = charge_succeeded_event("evt_conflict_1", amount=999_999)
    assert listener.post_event(original).status_code == 200
    answer = listener.post_event(tampered)
    assert answer.status_code == 200  # so Stripe stops retrying
    assert answer.json()["outcome"] == Outcome.CONFLICT.value
    assert listener.store.webhook_event("evt_conflict_1").data_object()["amount"] == 2000
    conflicts = listener.store.webhook_conflicts("evt_conflict_1")
    assert len(conflicts) == 1
    assert conflicts[0].payload_hash == hashlib.sha256(encode(tampered)).hexdigest()
    assert listener.store.count_webhook_events() == 1


def test_during_rotation_old_and_new_secrets_are_both_accepted(make_listener) -> None:
    old, new = TEST_WEBHOOK_SECRET, new_secret()
    rotating = make_listener(stripe_webhook_secrets=(old, new))
    assert rotating.post_event(charge_succeeded_event(), secret=old).status_code == 200
    assert rotating.post_event(charge_succeeded_event(), secret=new).status_code == 200
    assert rotating.store.count_webhook_events() == 2


def test_after_rotation_the_removed_secret_is_refused(make_listener, tmp_path) -> None:
    old, new = TEST_WEBHOOK_SECRET, new_secret()
    rotated = make_listener(
        stripe_webhook_secrets=(new,), ops_database_url=f"sqlite:///{tmp_path / 'rotated.sqlite'}"
    )
    answer = rotated.post_event(charge_succeeded_event(), secret=old)
    assert answer.status_code == 400
    assert answer.json()["error"] == "no valid signature for this endpoint's signing secret(s)"
    assert rotated.store.count_webhook_events() == 0
    assert rotated.post_event(charge_succeeded_event(), secret=new).status_code == 200


def test_a_stale_timestamp_is_refused_and_nothing_stored(listener) -> None:
    answer = listener.post_event(charge_succeeded_event(), timestamp=int(time.time()) - 301)
    assert answer.status_code == 400
    assert "tolerance" in answer.json()["error"]
    assert listener.store.count_webhook_events() == 0
    # just inside the tolerance is fine
    assert (
        listener.post_event(charge_succeeded_event(), timestamp=int(time.time()) - 290).status_code
        == 200
    )


def _post(listener, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with listener.client() as client:
        return client.post(WEBHOOK_PATH, content=body, headers=headers)


def test_missing_forged_or_malformed_signatures_are_refused(listener) -> None:
    body = encode(charge_succeeded_event())
    cases = {
        "missing Stripe-Signature header": {},
        "no valid signature for this endpoint's signing secret(s)": {
            "Stripe-Signature": sign(body, new_secret())
        },
        "malformed Stripe-Signature header": {"Stripe-Signature": "garbage"},
    }
    for reason, headers in cases.items():
        answer = _post(listener, body, headers)
        assert (answer.status_code, answer.json()["error"]) == (400, reason)
    # a signature over other bytes: the body was changed in transit
    other = encode(charge_succeeded_event())
    answer = _post(listener, body, {"Stripe-Signature": sign(other)})
    assert answer.status_code == 400
    assert listener.store.count_webhook_events() == 0


def test_signed_but_malformed_bodies_are_refused(listener) -> None:
    for body, reason in [
        (b"{not json", "body is not valid JSON"),
        (b'["an", "array"]', "body is not a Stripe event"),
        (b'{"object": "event", "type": "charge.succeeded"}', "event without id or type"),
    ]:
        answer = _post(listener, body, {"Stripe-Signature": sign(body)})
        assert (answer.status_code, answer.json()["error"]) == (400, reason)
    assert listener.store.count_webhook_events() == 0


def test_a_body_over_the_limit_is_refused_from_content_length(make_listener) -> None:
    small = make_listener(webhook_max_body_bytes=4096)
    event = charge_succeeded_event()
    event["data"]["object"]["description"] = "x" * 5000
    answer = small.post_event(event)
    assert answer.status_code == 400
    assert answer.json()["error"] == "body larger than 4096 bytes"
    assert small.store.count_webhook_events() == 0


def test_a_body_over_the_limit_is_refused_while_streaming_without_content_length(
    make_listener,
) -> None:
    small = make_listener(webhook_max_body_bytes=4096)
    event = charge_succeeded_event()
    event["data"]["object"]["description"] = "x" * 5000
    body = encode(event)

    def chunks():
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    with small.client() as client:
        # a generator body goes out chunked: no Content-Length to check up front
        answer = client.post(
            WEBHOOK_PATH, content=chunks(), headers={"Stripe-Signature": sign(body)}
        )
    assert answer.status_code == 400
    assert answer.json()["error"] == "body larger than 4096 bytes"
    assert small.store.count_webhook_events() == 0


def test_connect_events_are_attributed_to_their_account(listener) -> None:
    event = charge_succeeded_event(account="acct_connected_1")
    assert listener.post_event(event).status_code == 200
    assert listener.store.webhook_event(event["id"]).account_id == "acct_connected_1"
    assert [e.id for e in listener.store.pending_webhook_events(account_id="acct_connected_1")] == [
        event["id"]
    ]


def test_account_application_deauthorized_marks_the_account_disconnected(listener) -> None:
    listener.store.upsert_account(
        project_id="p1", stripe_account_id="acct_gone", livemode=False, scope="read_only"
    )
    event = {
        "id": "evt_deauth_1",
        "object": "event",
        "account": "acct_gone",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": "account.application.deauthorized",
        "data": {"object": {"id": "ca_test_platform", "object": "application", "name": "Pipeline"}},
    }
    assert listener.post_event(event).status_code == 200
    assert listener.store.get_account("acct_gone").status == "disconnected"
    assert listener.store.webhook_event("evt_deauth_1").account_id == "acct_gone"


def test_without_a_configured_secret_webhooks_answer_503_so_stripe_retries(make_listener) -> None:
    unconfigured = make_listener(stripe_webhook_secrets=())
    answer = unconfigured.post_event(charge_succeeded_event())
    assert answer.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET" in answer.json()["error"]
    assert unconfigured.store.count_webhook_events() == 0


def test_stored_payload_is_the_verified_event_json(listener) -> None:
    event = charge_succeeded_event(account="acct_x")
    listener.post_event(event)
    stored = orjson.loads(listener.store.webhook_event(event["id"]).payload)
    assert stored["id"] == event["id"]
    assert stored["account"] == "acct_x"
    assert stored["data"]["object"]["id"] == event["data"]["object"]["id"]


def test_when_the_inbox_cannot_store_an_event_the_answer_is_not_2xx_and_no_payload_is_logged(
    listener, caplog
) -> None:
    from sqlalchemy import text

    caplog.set_level(logging.DEBUG)
    with listener.store.engine.begin() as conn:  # the inbox breaks under the running listener
        conn.execute(text("DROP TABLE stripe_webhook_events"))
    # The marker sits first in the body: a database error's message would quote the start of
    # each parameter, so a leak would show it.
    event = {"data": {"object": {"description": "PAYLOAD-MARKER-unstored"}}}
    event.update({k: v for k, v in charge_succeeded_event().items() if k != "data"})
    answer = listener.post_event(event)
    assert answer.status_code == 500  # Stripe retries it later: not lost
    assert "stripe_webhook_events" in caplog.text  # the failure itself is logged, with the SQL
    assert "PAYLOAD-MARKER-unstored" not in caplog.text
    assert "4242" not in caplog.text


def test_a_delivery_signed_by_both_secrets_during_a_roll_passes_with_either_configured(
    make_listener,
) -> None:
    # While a secret is rolled, Stripe puts one v1 signature per active secret in the header.
    old, new = TEST_WEBHOOK_SECRET, new_secret()
    only_new = make_listener(stripe_webhook_secrets=(new,))
    body = encode(charge_succeeded_event())
    ts = int(time.time())
    both = f"{sign(body, old, ts)},v1={sign(body, new, ts).split('v1=')[1]}"
    answer = _post(only_new, body, {"Stripe-Signature": both})
    assert answer.status_code == 200, answer.text
    assert only_new.store.count_webhook_events() == 1


def test_a_signed_body_nested_deeper_than_stripe_sends_is_refused_with_400_not_a_crash(
    listener, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    event = charge_succeeded_event()
    deep: dict = {}
    for _ in range(500):  # orjson parses up to 1024 levels; the scrubber must not recurse on it
        deep = {"x": deep}
    event["data"]["object"]["metadata"] = deep
    answer = listener.post_event(json.dumps(event).encode())  # orjson writes 255 levels at most
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["error"]
    assert listener.store.webhook_event(event["id"]) is None
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
    # an ordinary Stripe event, with expansions, is far below the limit
    assert listener.post_event(charge_succeeded_event()).status_code == 200


def _stored_object(listener, data_object: dict, event_type: str) -> tuple[dict, str]:
    event = charge_succeeded_event()
    event["type"] = event_type
    event["data"] = {"object": data_object}
    assert listener.post_event(event).status_code == 200
    stored = listener.store.webhook_event(event["id"])
    return stored.data_object(), stored.payload


def test_a_customers_name_and_contact_details_are_not_stored(listener) -> None:
    # https://docs.stripe.com/api/customers/object: name, email, phone, address, shipping
    customer = {
        "id": "cus_NAME1",
        "object": "customer",
        "name": "Jenny Rosen",
        "individual_name": "Jenny Rosen",
        "email": "jenny@example.com",
        "phone": "+15555550100",
        "description": "Jenny Rosen, VIP",
        "address": {"line1": "510 Townsend St", "country": "US"},
        "shipping": {"name": "Jenny Rosen", "address": {"line1": "510 Townsend St"}},
        "metadata": {"app_project_id": "p1"},
        "created": 1700000000,
        "livemode": False,
    }
    stored, payload = _stored_object(listener, customer, "customer.created")
    assert "Jenny" not in payload and "jenny@" not in payload and "Townsend" not in payload
    assert (stored["id"], stored["metadata"]) == ("cus_NAME1", {"app_project_id": "p1"})


def test_a_customer_update_keeps_no_old_name_in_previous_attributes(listener) -> None:
    event = charge_succeeded_event()
    event["type"] = "customer.updated"
    event["data"] = {
        "object": {"id": "cus_NAME2", "object": "customer", "name": "New Name", "metadata": {}},
        "previous_attributes": {"name": "Old Name", "metadata": {}},
    }
    assert listener.post_event(event).status_code == 200
    payload = listener.store.webhook_event(event["id"]).payload
    assert "New Name" not in payload and "Old Name" not in payload


def test_a_checkout_sessions_collected_shipping_name_is_not_stored(listener) -> None:
    # https://docs.stripe.com/api/checkout/sessions/object#checkout_session_object-collected_information
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 2000,
        "collected_information": {
            "shipping_details": {
                "name": "Jenny Rosen",
                "address": {"line1": "510 Townsend St", "country": "US"},
            },
        },
        "shipping_details": {"name": "Jenny Rosen"},
        "metadata": {"app_sku_id": "sku_9"},
    }
    stored, payload = _stored_object(listener, session, "checkout.session.completed")
    assert "Jenny" not in payload and "Townsend" not in payload
    assert stored["amount_total"] == 2000 and stored["metadata"] == {"app_sku_id": "sku_9"}


def test_card_shapes_without_object_or_with_an_odd_brand_keep_only_the_allow_list(
    listener,
) -> None:
    charge = charge_succeeded_event()["data"]["object"]
    # a legacy card source without `object`
    charge["source"] = {
        "id": "card_1ABC",
        "brand": "Visa",
        "last4": "4242",
        "fingerprint": "Xt5EWLLDS7FJjR1c",
        "exp_month": 12,
        "exp_year": 2034,
        "name": "Jenny Rosen",
        "funding": "credit",
        "country": "US",
    }
    # a card whose brand is not the string Stripe documents
    charge["payment_method_details"]["card"]["brand"] = {
        "name": "visa",
        "last4": "4242",
        "fingerprint": "Xt5EWLLDS7FJjR1c",
    }
    # a card object whose `type` and `brand` hide card data
    charge["payment_method"] = {
        "id": "card_2DEF",
        "object": "card",
        "brand": ["visa", {"last4": "4242"}],
        "type": {"fingerprint": "Xt5EWLLDS7FJjR1c"},
    }
    stored, payload = _stored_object(listener, charge, "charge.succeeded")
    for secretish in ("4242", "Xt5EWLLDS7FJjR1c", "exp_month", "Jenny"):
        assert secretish not in payload, secretish
    assert stored["source"]["funding"] == "credit" and stored["source"]["country"] == "US"
    assert stored["payment_method_details"]["card"]["funding"] == "credit"
    assert stored["payment_method"]["id"] == "card_2DEF"


def test_an_event_whose_created_overflows_64_bits_is_stored_without_it_not_refused_forever(
    listener,
) -> None:
    event = charge_succeeded_event()
    event["created"] = 2**63  # no column of either back end holds it; Stripe would retry 3 days
    answer = listener.post_event(json.dumps(event).encode())
    assert answer.status_code == 200, answer.text
    assert listener.store.webhook_event(event["id"]).created is None
