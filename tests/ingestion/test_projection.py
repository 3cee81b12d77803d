"""Projection onto the documented columns: what Stripe adds later is ignored, what changes type
is coerced rather than failing the load, and card data has no way in."""

from __future__ import annotations

import copy
import threading
import time

import pyarrow as pa

from stripe_pipeline.card_data import summarize_payment_method
from stripe_pipeline.stripe_source.columns import arrow_schema, to_arrow
from stripe_pipeline.stripe_source.helpers import merge_intervals, subtract_intervals
from stripe_pipeline.token_bucket import TokenBucket


def emulator_charges(emulator) -> list[dict]:
    response = emulator.client().raw_request(
        "get", "/v1/charges", limit=20, expand=["data.balance_transaction"]
    )
    return response.data["data"]


def test_new_fields_stripe_adds_later_change_nothing_in_the_landed_schema(emulator):
    # Card payments: the bank debits among them carry no card details.
    charges = [c for c in emulator_charges(emulator) if "card" in c["payment_method_details"]]
    changed = copy.deepcopy(charges)
    for charge in changed:
        charge["brand_new_field"] = {"nested": [1, 2, 3]}
        charge["payment_method_details"]["card"]["new_sensitive_thing"] = "4242424242424242"
        charge["payment_method_details"]["card"]["network_token"] = {"used": True}

    before = to_arrow("charges", charges, "acct_test")
    after = to_arrow("charges", changed, "acct_test")

    assert after.schema == before.schema == arrow_schema("charges")
    assert after.equals(before)
    assert "4242424242424242" not in str(after.to_pylist())


def test_a_field_that_changes_type_is_coerced_instead_of_failing_the_load(emulator):
    charges = copy.deepcopy(emulator_charges(emulator))
    charges[0]["description"] = {"now": "an object"}
    charges[1]["amount"] = "1200"
    charges[2]["paid"] = "yes"

    table = to_arrow("charges", charges, "acct_test")

    rows = table.to_pylist()
    assert rows[0]["description"] == '{"now":"an object"}'
    assert rows[1]["amount"] is None
    assert rows[2]["paid"] is None
    assert table.num_rows == len(charges)


def test_payment_method_summary_is_an_allow_list():
    details = {
        "type": "card",
        "card": {
            "brand": "visa",
            "funding": "credit",
            "country": "US",
            "last4": "4242",
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "exp_month": 12,
            "exp_year": 2034,
        },
    }
    summary = summarize_payment_method(details)

    assert (summary.type, summary.card_brand, summary.card_funding, summary.card_country) == (
        "card", "visa", "credit", "US",
    )  # fmt: skip
    assert "4242" not in repr(summary) and "Xt5E" not in repr(summary)
    assert summarize_payment_method({"type": "sepa_debit", "sepa_debit": {"last4": "3000"}}) == (
        summarize_payment_method({"type": "sepa_debit"})
    )
    assert summarize_payment_method(None).type is None


def test_deleted_events_flag_rows_and_metadata_lands_as_json_text():
    products = [{"id": "prod_1", "name": "A", "metadata": {"app_product_id": "p-1"}}]

    table = to_arrow("products", products, "acct_test", is_deleted=[True])

    row = table.to_pylist()[0]
    assert row["is_deleted"] is True
    assert row["metadata"] == '{"app_product_id":"p-1"}'
    assert row["account_id"] == "acct_test"
    assert table.schema.field("id").nullable is False
    assert isinstance(table, pa.Table)


def test_completed_slices_subtract_from_the_backfill_range():
    done = merge_intervals([(10, 20), (20, 30), (50, 60), (55, 70)])

    assert done == [(10, 30), (50, 70)]
    assert subtract_intervals((0, 100), done) == [(0, 10), (30, 50), (70, 100)]
    assert subtract_intervals((10, 30), done) == []


def test_token_bucket_never_lets_threads_together_exceed_the_rate():
    bucket = TokenBucket(rate=200.0)

    def worker() -> None:
        for _ in range(25):
            bucket.acquire()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 100 requests at 200/s take at least half a second, however the threads interleave (a
    # busy machine can only make it slower, so no upper bound is asserted here).
    assert time.monotonic() - started >= 0.48


def test_token_bucket_spaces_send_instants_evenly_at_the_rate():
    # A virtual clock: `sleep` advances it, so the schedule is checked exactly, without timing.
    now = [1000.0]
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(rate=200.0, capacity=5, clock=lambda: now[0], sleep=sleep)
    for _ in range(400):
        bucket.acquire()
        sent.append(now[0])

    # After the burst of `capacity` tokens, one request every 1/rate seconds, and no one-second
    # window holds more than rate + capacity requests.
    gaps = [b - a for a, b in zip(sent[5:], sent[6:], strict=False)]
    assert all(abs(gap - 0.005) < 1e-9 for gap in gaps)
    assert all(sent[i + 205] - sent[i] >= 1.0 - 1e-9 for i in range(len(sent) - 205))


def test_a_429_pause_holds_every_caller_of_the_account():
    bucket = TokenBucket(rate=1000.0)
    bucket.acquire()
    bucket.pause(0.3)
    started = time.monotonic()

    bucket.acquire()

    assert time.monotonic() - started >= 0.29
