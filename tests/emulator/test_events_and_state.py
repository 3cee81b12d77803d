"""Events (30 days), the overlay that API writes go to, deleted objects, event listeners."""

from __future__ import annotations

import time

from stripe_emulator import objects
from tests.emulator.helpers import get, ids

THIRTY_DAYS = 30 * 86_400


def test_events_list_only_the_last_thirty_days(make_emulator):
    emu = make_emulator(days=90, charges=300, accounts=0)
    cutoff = int(time.time()) - THIRTY_DAYS
    events, params = [], {"limit": 100}
    while True:
        body = get(emu, "/v1/events", params).json()
        events += body["data"]
        if not body["has_more"]:
            break
        params["starting_after"] = events[-1]["id"]
    assert events
    assert min(e["created"] for e in events) >= cutoff
    stream = emu.store.platform.streams["event"][0]
    old = stream.id(0)  # the first payment's event, 90 days old
    assert stream.created(0) < cutoff
    assert get(emu, f"/v1/events/{old}").status_code == 404


def test_event_type_filters(emulator):
    body = get(emulator, "/v1/events", {"type": "charge.refunded", "limit": 100}).json()
    assert body["data"] and {e["type"] for e in body["data"]} == {"charge.refunded"}
    for event in body["data"]:
        assert event["data"]["previous_attributes"]["amount_refunded"] == 0
        assert event["data"]["object"]["amount_refunded"] > 0
    wildcard = get(emulator, "/v1/events", {"type": "charge.dispute.*", "limit": 100}).json()
    assert all(e["type"].startswith("charge.dispute.") for e in wildcard["data"])
    several = get(
        emulator,
        "/v1/events",
        [("types[]", "refund.created"), ("types[]", "charge.succeeded"), ("limit", 100)],
    ).json()
    assert {e["type"] for e in several["data"]} == {"refund.created", "charge.succeeded"}


def test_charge_succeeded_event_shows_the_charge_as_it_was_then(emulator):
    refunded = get(emulator, "/v1/events", {"type": "charge.refunded", "limit": 1}).json()["data"][
        0
    ]
    charge_id = refunded["data"]["object"]["id"]
    succeeded = [
        e
        for e in get(emulator, "/v1/events", {"type": "charge.succeeded", "limit": 100}).json()[
            "data"
        ]
        if e["data"]["object"]["id"] == charge_id
    ]
    assert succeeded and succeeded[0]["data"]["object"]["amount_refunded"] == 0


def test_put_overrides_a_generated_object_in_place(emulator):
    account = emulator.store.platform
    first_ids = ids(get(emulator, "/v1/products", {"limit": 100}))
    product = account.get("product", first_ids[2])
    product["name"] = "Renamed"
    account.put(product)
    assert get(emulator, f"/v1/products/{product['id']}").json()["name"] == "Renamed"
    assert ids(get(emulator, "/v1/products", {"limit": 100})) == first_ids


def test_new_objects_list_first_and_deleted_ones_are_stubs(emulator):
    store = emulator.store
    account = store.platform
    product = objects.product(id=store.new_id("prod"), name="New", created=store.now())
    account.put(product)
    listed = ids(get(emulator, "/v1/products", {"limit": 100}))
    assert listed[0] == product["id"]
    account.delete("product", product["id"])
    body = get(emulator, f"/v1/products/{product['id']}").json()
    assert body == {"id": product["id"], "object": "product", "deleted": True}
    assert product["id"] not in ids(get(emulator, "/v1/products", {"limit": 100}))


def test_emit_event_records_the_event_and_calls_listeners(emulator):
    store = emulator.store
    account = store.accounts[emulator.connected_account_ids[0]]
    heard = []
    store.add_event_listener(lambda acct, event: heard.append((acct.id, event["id"])))
    customer = objects.customer(id=store.new_id("cus"), created=store.now(), email="a@example.com")
    account.put(customer)
    event = account.emit_event("customer.updated", customer, previous_attributes={"email": None})
    assert heard == [(account.id, event["id"])]
    newest = get(emulator, "/v1/events", {"limit": 1}, account=account.id).json()["data"][0]
    assert newest["id"] == event["id"]
    assert newest["data"]["previous_attributes"] == {"email": None}
    assert newest["account"] == account.id


def test_live_rate_writes_payments_and_their_events(make_emulator):
    emu = make_emulator(accounts=0, charges=20, live_rate=50)
    started = int(time.time())
    deadline = time.monotonic() + 5
    fresh: list[dict] = []
    while time.monotonic() < deadline and not any(c["status"] == "succeeded" for c in fresh):
        time.sleep(0.1)
        charges = get(emu, "/v1/charges", {"limit": 20}).json()["data"]
        fresh = [c for c in charges if c["created"] >= started - 1]
    newest = next(c for c in fresh if c["status"] == "succeeded")
    assert newest["id"].startswith("ch_1")
    bt = get(emu, f"/v1/balance_transactions/{newest['balance_transaction']}").json()
    assert bt["net"] == bt["amount"] - bt["fee"]
    types = {e["type"] for e in get(emu, "/v1/events", {"limit": 30}).json()["data"]}
    assert {"charge.succeeded", "payment_intent.succeeded"} <= types


def test_a_product_deleted_in_stripe_is_a_stub_with_its_events(make_emulator):
    emu = make_emulator(accounts=0, days=10)
    products = get(emu, "/v1/products", {"limit": 100}).json()["data"]
    deleted_events = get(emu, "/v1/events", {"type": "product.deleted"}).json()["data"]
    assert len(deleted_events) == 1
    product_id = deleted_events[0]["data"]["object"]["id"]
    assert deleted_events[0]["data"]["object"]["name"] == "Discontinued sample"
    assert product_id not in {p["id"] for p in products}
    assert get(emu, f"/v1/products/{product_id}").json() == {
        "id": product_id,
        "object": "product",
        "deleted": True,
    }


def test_objects_written_after_start_up_page_with_cursors_both_ways(emulator):
    store = emulator.store
    account = store.platform
    now = store.now()
    for k in range(25):
        # several per second: the order among equal `created` must stay stable
        account.put(
            objects.customer(
                id=store.new_id("cus"), created=now + k // 5, email=f"n{k}@example.com"
            )
        )
    walked, params = [], {"limit": 7}
    while True:
        body = get(emulator, "/v1/customers", params).json()
        walked += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        params["starting_after"] = walked[-1]
    assert len(walked) == len(set(walked)) == 25 + len(account.streams["customer"][0])
    assert walked[:25] == [c["id"] for c in reversed(list(account._new["customer"]._objs))]
    back = get(emulator, "/v1/customers", {"limit": 100, "ending_before": walked[20]}).json()
    assert [c["id"] for c in back["data"]] == walked[:20]


def test_payment_methods_of_a_charge_can_be_retrieved(emulator):
    charge = get(emulator, "/v1/charges", {"limit": 1}).json()["data"][0]
    pm = get(emulator, f"/v1/payment_methods/{charge['payment_method']}").json()
    assert pm["object"] == "payment_method"
    assert pm["card"]["last4"] == charge["payment_method_details"]["card"]["last4"]


def test_events_written_through_the_api_expire_after_thirty_days(emulator):
    store = emulator.store
    account = store.platform
    customer = objects.customer(id=store.new_id("cus"), created=store.now())
    event = account.emit_event("customer.created", customer)
    assert get(emulator, f"/v1/events/{event['id']}").status_code == 200
    store.clock_offset = THIRTY_DAYS + 60
    try:
        assert get(emulator, f"/v1/events/{event['id']}").status_code == 404
        assert event["id"] not in ids(get(emulator, "/v1/events", {"limit": 100}))
    finally:
        store.clock_offset = 0
