"""The webhook fast path lands payouts as it lands payments: a `payout.paid` event fetches the
payout by id, with its own balance transaction (docs.stripe.com/api/events/types: payout.paid's
data.object is the payout)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from stripe_pipeline.inbox_source import collect_tables, plan_inbox
from stripe_pipeline.ops_store.models import WebhookEvent
from stripe_pipeline.stripe_source import SyncStats
from tests.fixtures.warehouse import settings_for


def _inbox_event(event: dict) -> WebhookEvent:
    return WebhookEvent(
        id=event["id"], account_id=None, type=event["type"], livemode=False,
        api_version=event.get("api_version"), created=event["created"], payload_hash="0" * 64,
        payload=orjson.dumps(event).decode(), received_at=datetime.now(UTC), processed_at=None,
        status="received", run_id=None,
    )  # fmt: skip


def test_a_payout_paid_event_lands_the_payout_and_its_balance_transaction(
    emulator, tmp_path: Path
) -> None:
    client = emulator.client()
    events = [
        e.to_dict_recursive() if hasattr(e, "to_dict_recursive") else e.to_dict()
        for e in client.v1.events.list({"limit": 100, "type": "payout.paid"}).auto_paging_iter()
    ]
    assert events, "the emulator made no payout in the last 30 days"
    plan = plan_inbox([_inbox_event(e) for e in events[:3]])
    payout_ids = [e["data"]["object"]["id"] for e in events[:3]]
    assert plan.fetch == {"payouts": list(dict.fromkeys(payout_ids))}

    tables = collect_tables(
        settings_for(emulator, tmp_path), emulator.platform_account_id, True, plan, SyncStats()
    )
    payouts = {r["id"]: r for r in tables["payouts"].to_pylist()}
    assert set(payouts) == set(payout_ids)
    for payout_id, row in payouts.items():
        current = client.v1.payouts.retrieve(payout_id)
        assert (row["status"], row["amount"], row["automatic"]) == (
            current.status,
            current.amount,
            current.automatic,
        )
    landed_bts = {r["id"]: r for r in tables["balance_transactions"].to_pylist()}
    for row in payouts.values():
        bt = landed_bts[row["balance_transaction"]]
        assert bt["type"] == "payout" and bt["amount"] == -row["amount"]
    assert {r["object_id"] for r in tables["events"].to_pylist()} == set(payout_ids)
