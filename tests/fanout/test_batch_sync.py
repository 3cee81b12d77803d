"""Many accounts per load (stripe_source.batch): each account's cursors kept apart, an unchanged
account costs one events request, a failing one fails alone."""

from __future__ import annotations

import json

import duckdb

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.settings import Settings
from stripe_pipeline.stripe_source.batch import CURSORS_TABLE, sync_batch


def _accounts(emulator: EmulatorHandle) -> list[str]:
    return [emulator.platform_account_id, *emulator.connected_account_ids]


def _sync(settings: Settings, emulator: EmulatorHandle, batch_id: str, **options):
    return sync_batch(
        settings,
        _accounts(emulator),
        batch_id=batch_id,
        platform_id=emulator.platform_account_id,
        **options,
    )


def _charges(settings: Settings) -> dict[str, tuple[int, int]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select account_id, count(*), count(distinct id) from stripe.charges group by 1"
        ).fetchall()
    return {a: (n, distinct) for a, n, distinct in rows}


def _cursors(settings: Settings) -> dict[str, dict]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute(f"select account_id, state from stripe.{CURSORS_TABLE}").fetchall()
    return {a: json.loads(s) for a, s in rows}


def _pay(emulator: EmulatorHandle, account: str) -> str:
    intent = emulator.client(stripe_account=account).v1.payment_intents.create(
        {"amount": 4200, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"}
    )
    return intent.latest_charge


def test_unchanged_accounts_cost_one_events_request_each_and_land_nothing(
    emulator: EmulatorHandle, pipeline_settings: Settings
) -> None:
    first = _sync(pipeline_settings, emulator, "first")
    assert {o.status for o in first.outcomes.values()} == {"synced"}
    landed = _charges(pipeline_settings)
    assert set(landed) == set(_accounts(emulator))

    again = _sync(pipeline_settings, emulator, "again")

    # The floor of an incremental sync: one GET /v1/events per account, nothing else; except
    # that balance transactions still pending when listed are listed again (they become
    # available without an event: https://docs.stripe.com/api/balance_transactions/object).
    for outcome in again.outcomes.values():
        requests = {n: s.requests for n, s in outcome.stats.resources.items() if s.requests}
        if outcome.status == "unchanged":
            assert requests == {"events": 1}
        else:
            assert outcome.status == "synced"
            assert requests.keys() == {"events", "balance_transactions"}
            assert requests["events"] == 1
    assert "unchanged" in {o.status for o in again.outcomes.values()}
    assert _charges(pipeline_settings) == landed


def test_a_new_payment_syncs_its_account_alone_and_lands_its_charge_once(
    emulator: EmulatorHandle, pipeline_settings: Settings
) -> None:
    _sync(pipeline_settings, emulator, "first")
    before = _charges(pipeline_settings)
    payer = emulator.connected_account_ids[1]
    charge = _pay(emulator, payer)

    result = _sync(pipeline_settings, emulator, "second")

    assert result.outcomes[payer].status == "synced"
    # The others list at most their pending balance transactions again (see above).
    for account, outcome in result.outcomes.items():
        if account != payer:
            assert outcome.stats.resource("charges").requests == 0
    after = _charges(pipeline_settings)
    n, distinct = before[payer]
    assert after[payer] == (n + 1, distinct + 1)
    assert {a: v for a, v in after.items() if a != payer} == {
        a: v for a, v in before.items() if a != payer
    }
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        assert con.execute(
            "select account_id from stripe.charges where id = ?", [charge]
        ).fetchall() == [(payer,)]
        # The events that announced it landed too, once each.
        assert con.execute(
            "select count(*) = count(distinct (account_id, id)) from stripe.events"
        ).fetchone() == (True,)


def test_a_deauthorized_account_fails_alone_and_keeps_its_cursors(
    emulator: EmulatorHandle, pipeline_settings: Settings
) -> None:
    _sync(pipeline_settings, emulator, "first")
    revoked, payer = emulator.connected_account_ids[0], emulator.connected_account_ids[2]
    cursors = _cursors(pipeline_settings)
    # The account removes the platform's access (Connect deauthorization): Stripe answers 403
    # to requests made on its behalf.
    emulator.store.disconnect(revoked)
    _pay(emulator, payer)

    result = _sync(pipeline_settings, emulator, "second")

    assert result.failed.keys() == {revoked}
    assert "403" in result.failed[revoked] and revoked in result.failed[revoked]
    assert emulator.api_key not in result.failed[revoked]
    assert result.outcomes[payer].status == "synced"
    after = _cursors(pipeline_settings)
    assert after[revoked] == cursors[revoked]
    assert after[payer] != cursors[payer]


def test_accounts_beyond_one_load_land_in_further_loads_with_their_own_cursors(
    emulator: EmulatorHandle, pipeline_settings: Settings
) -> None:
    result = _sync(pipeline_settings, emulator, "first", accounts_per_load=2, accounts_at_once=2)

    accounts = _accounts(emulator)
    assert result.loads == 3  # 5 accounts, 2 per load
    assert set(_charges(pipeline_settings)) == set(accounts)
    cursors = _cursors(pipeline_settings)
    assert set(cursors) == set(accounts)
    for state in cursors.values():
        assert state["events_cursor"] > 0
        # Every resource listed to a cursor (payout links: to the oldest open payout).
        assert all(
            s.get("cursor") is not None or "open_from" in s for s in state["resources"].values()
        )
        assert not any("plan" in s for s in state["resources"].values())
