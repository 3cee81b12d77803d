"""A million charges: generated on demand, served in milliseconds, memory flat."""

from __future__ import annotations

import time
import tracemalloc

from stripe_emulator.store import ListQuery, Store, StoreOptions
from tests.emulator.helpers import get, ids

# Seconds under which an answer cannot have come from walking every one of a million objects.
SCAN_BOUND_S = 5.0


def test_a_million_charges_cost_no_memory_and_the_last_page_is_fast(make_emulator):
    tracemalloc.start()
    try:
        store = Store.generate(
            StoreOptions(seed=3, accounts=0, unconnected_accounts=0, charges=1_000_000)
        )
        account = store.platform
        stream = account.streams["charge"][0]
        # Cursor into the oldest end: the last page of a full walk.
        page = account.list("charge", ListQuery(limit=100, starting_after=stream.id(100)))
        assert [c["id"] for c in page.data] == [stream.id(i) for i in range(99, -1, -1)]
        assert page.has_more is False
        # Filters on the far end: created range and a balance transaction by source.
        old = account.list("charge", ListQuery(limit=100, created_hi=stream.created(5)))
        assert {c["id"] for c in old.data} >= {stream.id(i) for i in range(5)}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB: objects were materialized"

    emu = make_emulator(store=store)
    started = time.perf_counter()
    response = get(
        emu,
        "/v1/charges",
        {"limit": 100, "starting_after": stream.id(100), "expand[]": "data.balance_transaction"},
    )
    elapsed = time.perf_counter() - started
    assert ids(response)[-1] == stream.id(0)
    # A scan of the million objects takes tens of seconds; a few seconds leaves room for a busy
    # machine without letting a scan pass.
    assert elapsed < SCAN_BOUND_S, f"last page took {elapsed:.2f}s"
    first = get(emu, "/v1/charges", {"limit": 1}).json()["data"][0]
    assert first["id"] == stream.id(999_999)


def test_filters_naming_a_payment_find_it_without_scanning_a_million(make_emulator):
    store = Store.generate(
        StoreOptions(seed=3, accounts=0, unconnected_accounts=0, charges=1_000_000)
    )
    emu = make_emulator(store=store)
    gen = store.platform.generator
    i = next(i for i in range(10, 1000) if gen.refund_index(i) is not None)
    charge_id, pi_id = gen.gen_id("ch", "c", i), gen.gen_id("pi", "c", i)
    started = time.perf_counter()
    assert ids(get(emu, "/v1/charges", {"payment_intent": pi_id})) == [charge_id]
    refunds = get(emu, "/v1/refunds", {"charge": charge_id}).json()["data"]
    assert [r["charge"] for r in refunds] == [charge_id]
    assert ids(get(emu, "/v1/refunds", {"payment_intent": pi_id})) == [refunds[0]["id"]]
    bts = ids(get(emu, "/v1/balance_transactions", {"source": charge_id}))
    assert bts == [gen.gen_id("txn", "c", i)]
    assert time.perf_counter() - started < SCAN_BOUND_S


def test_rare_event_types_are_found_quickly_in_a_million_payment_account(make_emulator):
    store = Store.generate(
        StoreOptions(seed=3, accounts=0, unconnected_accounts=0, charges=1_000_000, days=20)
    )
    emu = make_emulator(store=store)
    started = time.perf_counter()
    body = get(emu, "/v1/events", {"type": "product.created", "limit": 100}).json()
    assert len(body["data"]) == 7 and body["has_more"] is False
    refunds = get(emu, "/v1/events", {"types[]": "charge.refunded", "limit": 100}).json()
    assert {e["type"] for e in refunds["data"]} == {"charge.refunded"}
    assert time.perf_counter() - started < SCAN_BOUND_S
