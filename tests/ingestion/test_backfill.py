"""A first sync lands every object of every resource of an account, once, with that account's id,
on exactly the columns docs/architecture.md promises, and no card data."""

from __future__ import annotations

import time

import pytest

from stripe_pipeline.stripe_source import RESOURCE_NAMES, source_stats, stripe_source
from tests.fixtures.landed import documented_columns
from tests.fixtures.warehouse import stripe_totals


def assert_events_match(warehouse, account: str, expected: set[str]) -> None:
    """Events land as listed; Stripe (and the emulator) stop listing them after 30 days, so the
    warehouse may keep a few that aged out between the sync and this check, and no others."""
    landed = dict(
        warehouse.query("select id, created from stripe.events where account_id = ?", [account])
    )
    assert expected <= set(landed)
    aged_out_before = time.time() - 30 * 86400 + 600
    extra = {i: landed[i] for i in set(landed) - expected}
    assert all(created < aged_out_before for created in extra.values()), extra


def test_backfill_lands_every_object_of_every_resource_exactly_once(make_emulator, make_warehouse):
    # Enough charges for several pages per slice and several slices per resource.
    emulator = make_emulator(charges=1500, accounts=0)
    warehouse = make_warehouse(emulator)

    result = warehouse.sync()

    assert result.complete
    account = emulator.platform_account_id
    expected = stripe_totals(emulator, account)
    for table in RESOURCE_NAMES:
        landed = warehouse.ids(table, account)
        assert len(landed) == len(set(landed)), f"{table} has duplicate ids"
        if table == "events":
            assert_events_match(warehouse, account, expected["events"])
        else:
            assert set(landed) == expected[table], f"{table} differs from the emulator"
    assert len(expected["charges"]) > 1000, "the fixture data is too small to page and slice"
    assert result.resources["charges"].slices > 1
    assert result.resources["charges"].rows == len(expected["charges"])


def test_connected_accounts_land_side_by_side_each_with_its_own_account_id(
    emulator, make_warehouse
):
    warehouse = make_warehouse(emulator)
    first, second = emulator.connected_account_ids[:2]

    warehouse.sync(first)
    warehouse.sync(second)

    for account in (first, second):
        expected = stripe_totals(emulator, account)
        for table in ("charges", "balance_transactions", "products", "refunds"):
            assert set(warehouse.ids(table, account)) == expected[table], (account, table)
        assert_events_match(warehouse, account, expected["events"])
    accounts_in_charges = {r[0] for r in warehouse.query("select account_id from stripe.charges")}
    assert accounts_in_charges == {first, second}


def test_landed_tables_have_exactly_the_documented_columns(emulator, make_warehouse):
    warehouse = make_warehouse(emulator)
    warehouse.sync()

    documented = documented_columns()
    assert set(documented) == set(RESOURCE_NAMES)
    for table, columns in documented.items():
        landed = [
            r[0]
            for r in warehouse.query(
                "select column_name from information_schema.columns "
                "where table_schema = 'stripe' and table_name = ? order by ordinal_position",
                [table],
            )
        ]
        assert [c for c in landed if not c.startswith("_dlt")] == columns, table


def test_no_card_data_lands_anywhere_in_the_warehouse(emulator, make_warehouse):
    client = emulator.client()
    secrets: set[str] = set()
    brands: set[str] = set()
    for charge in client.v1.charges.list({"limit": 100}).auto_paging_iter():
        details = charge.to_dict().get("payment_method_details") or {}
        card = details.get("card") or {}
        for key in ("last4", "fingerprint"):
            if card.get(key):
                secrets.add(str(card[key]))
        if card.get("brand"):
            brands.add(card["brand"])
        billing = charge.to_dict().get("billing_details") or {}
        for key in ("name", "email", "phone"):
            if billing.get(key):
                secrets.add(str(billing[key]))
    assert any(len(s) == 4 and s.isdigit() for s in secrets), "emulator charges carry no last4"
    warehouse = make_warehouse(emulator)

    warehouse.sync()

    text_columns = warehouse.query(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'stripe' and data_type = 'VARCHAR'"
    )
    for table, column in text_columns:
        values = {r[0] for r in warehouse.query(f'select distinct "{column}" from stripe.{table}')}
        for value in values - {None}:
            # Short values (last4) leak as a whole value or a JSON string; longer ones anywhere.
            leaked = [
                s for s in secrets if value == s or f'"{s}"' in value or (len(s) > 6 and s in value)
            ]
            assert not leaked, f"{table}.{column} holds card data: {leaked}"
    # The allow-listed summary does land.
    landed_brands = {
        r[0] for r in warehouse.query("select distinct card_brand from stripe.charges")
    }
    assert brands <= landed_brands


def test_every_row_carries_the_account_id_and_metadata_as_json_text(emulator, make_warehouse):
    warehouse = make_warehouse(emulator)
    warehouse.sync()

    for table in RESOURCE_NAMES:
        missing = warehouse.query(f"select count(*) from stripe.{table} where account_id is null")
        assert missing == [(0,)], table
    bad_json = warehouse.query(
        "select count(*) from stripe.charges where try(json(metadata)) is null"
    )
    assert bad_json == [(0,)]


def test_stats_are_readable_from_a_copied_source_after_a_run(emulator, make_warehouse):
    from stripe_pipeline.stripe_source import make_pipeline

    warehouse = make_warehouse(emulator)
    source = stripe_source(None, warehouse.settings).with_resources("products", "charges")
    pipeline = make_pipeline(warehouse.settings, emulator.platform_account_id)

    pipeline.run(source)

    stats = source_stats(source).as_dict()
    assert stats["charges"]["rows"] == len(stripe_totals(emulator, None)["charges"])
    assert stats["charges"]["requests"] >= 1
    assert set(stats) >= {"products", "charges"}


@pytest.mark.parametrize("bad", ["secret", "account"])
def test_access_errors_fail_at_once_naming_the_account_and_what_to_do(
    emulator, make_warehouse, bad
):
    from stripe_pipeline.stripe_source import StripeAccessError

    if bad == "secret":
        warehouse = make_warehouse(emulator, stripe_client_secret="sk_test_not_the_right_key")
        account = emulator.connected_account_ids[0]
        expected = "STRIPE_CLIENT_SECRET"
    else:
        warehouse = make_warehouse(emulator)
        store = emulator.store
        account = next(
            a for a in store.accounts if a != store.platform_id and not store.is_connected(a)
        )
        expected = "reconnect"

    with pytest.raises(StripeAccessError) as failure:
        warehouse.sync(account)

    message = str(failure.value)
    assert account in message
    assert expected in message
    assert "not_the_right_key" not in message and emulator.api_key not in message
    assert "/v1/" in message
