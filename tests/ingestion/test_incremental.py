"""After the backfill, the next run brings in what changed in Stripe: new objects from the created
cursor, and changes to old ones (refunds, disputes, edits, archives, deletions) from events."""

from __future__ import annotations

import time

from stripe_pipeline.stripe_source import make_pipeline
from tests.fixtures.warehouse import stripe_totals


def wait_for_dispute(client, charge_id: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for dispute in client.v1.disputes.list({"limit": 10}).data:
            if dispute.charge == charge_id:
                return dispute
        time.sleep(0.1)
    raise AssertionError(f"no dispute opened for {charge_id}")


def test_changes_made_after_the_backfill_reach_the_warehouse_on_the_next_run(
    emulator, make_warehouse
):
    client = emulator.client()
    account = emulator.platform_account_id
    # Stripe refuses to delete a product that has prices; this one never gets any.
    doomed = client.v1.products.create({"name": "Discontinued sticker"})
    warehouse = make_warehouse(emulator)
    warehouse.sync()

    charge_id, amount = warehouse.query(
        "select id, amount from stripe.charges where status = 'succeeded' and not refunded "
        "and amount_refunded = 0 and not disputed order by created desc limit 1"
    )[0]
    refund = client.v1.refunds.create({"charge": charge_id, "amount": amount // 2})
    edited_product = next(p for p in warehouse.ids("products", account) if p != doomed.id)
    client.v1.products.update(edited_product, {"name": "Renamed in the dashboard"})
    client.v1.products.delete(doomed.id)
    archived_price = warehouse.ids("prices", account)[0]
    client.v1.prices.update(archived_price, {"active": False})
    disputed_intent = client.v1.payment_intents.create(
        {
            "amount": 4200,
            "currency": "usd",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        }  # fmt: skip
    )
    dispute = wait_for_dispute(client, disputed_intent.latest_charge)

    result = warehouse.sync()

    refund_row = warehouse.row("refunds", refund.id)
    assert (refund_row["charge"], refund_row["amount"]) == (charge_id, amount // 2)
    assert warehouse.row("charges", charge_id)["amount_refunded"] == amount // 2
    assert warehouse.row("products", edited_product)["name"] == "Renamed in the dashboard"
    assert warehouse.row("products", doomed.id)["is_deleted"] is True
    assert warehouse.row("prices", archived_price)["active"] is False
    dispute_row = warehouse.row("disputes", dispute.id)
    assert dispute_row["charge"] == disputed_intent.latest_charge
    assert dispute_row["amount"] == 4200
    assert warehouse.row("charges", disputed_intent.latest_charge)["amount"] == 4200
    assert refund_row["balance_transaction"] in warehouse.ids("balance_transactions", account)
    assert result.resources["products"].events_replayed >= 2
    # Still exactly Stripe's objects, once each (the deleted product stays, flagged).
    expected = stripe_totals(emulator, account)
    for table in ("charges", "refunds", "disputes", "balance_transactions", "payment_intents"):
        landed = warehouse.ids(table, account)
        assert sorted(landed) == sorted(expected[table]), table
    live_products = warehouse.query(
        "select id from stripe.products where account_id = ? and not is_deleted", [account]
    )
    assert {r[0] for r in live_products} == expected["products"]


def test_closing_a_backfilled_dispute_updates_its_row(emulator, make_warehouse):
    client = emulator.client()
    intent = client.v1.payment_intents.create(
        {
            "amount": 1500,
            "currency": "usd",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        }  # fmt: skip
    )
    dispute_id = wait_for_dispute(client, intent.latest_charge).id
    warehouse = make_warehouse(emulator)
    warehouse.sync()
    assert warehouse.row("disputes", dispute_id)["status"] == "needs_response"

    client.v1.disputes.close(dispute_id)
    warehouse.sync()

    assert warehouse.row("disputes", dispute_id)["status"] == "lost"


def test_an_events_cursor_past_stripes_retention_relists_the_resource(emulator, make_warehouse):
    client = emulator.client()
    account = emulator.platform_account_id
    warehouse = make_warehouse(emulator)
    warehouse.sync()
    product = warehouse.ids("products", account)[0]
    # As if the last run was 40 days ago: the events since then are partly gone from Stripe.
    pipeline = make_pipeline(warehouse.settings, account)
    with pipeline.managed_state() as state:
        resource_state = state["sources"]["stripe"]["resources"]["products"]
        resource_state["events_cursor"] = int(time.time()) - 40 * 86400
    client.v1.products.update(product, {"name": "Edited while nobody synced"})

    result = warehouse.sync()

    assert result.resources["products"].relisted is True
    assert result.resources["charges"].relisted is False
    assert warehouse.row("products", product)["name"] == "Edited while nobody synced"
    assert sorted(warehouse.ids("products", account)) == sorted(
        stripe_totals(emulator, account)["products"]
    )


def test_a_dispute_opened_after_the_backfill_flags_its_charge_as_disputed(emulator, make_warehouse):
    from stripe_emulator import mutations

    # Stripe opens a createDispute card's dispute a little after the charge; long enough here
    # for the first sync to see the charge undisputed.
    mutations.settings(emulator.store).dispute_delay = 5.0
    client = emulator.client()
    intent = client.v1.payment_intents.create(
        {
            "amount": 990,
            "currency": "usd",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        }
    )
    # Past the second the next run lists again from, so only the events can bring the change.
    time.sleep(2.1)
    warehouse = make_warehouse(emulator)
    warehouse.sync(resources=["charges"])
    assert warehouse.row("charges", intent.latest_charge)["disputed"] is False, "too slow"
    wait_for_dispute(client, intent.latest_charge)

    result = warehouse.sync(resources=["charges"])

    # No charge.* event says so: the dispute's events make the charge be retrieved again.
    assert warehouse.row("charges", intent.latest_charge)["disputed"] is True
    assert result.resources["charges"].events_replayed >= 1
