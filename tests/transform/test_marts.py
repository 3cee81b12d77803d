"""The marts, built by `dbt build` from the hand-computed scenario in tests/fixtures/transform.py,
hold the money and mappings a person computes from the landed rows by hand."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from tests.fixtures.transform import DuckdbWarehouse

NOT_TRANSACTIONS = ("payout", "transfer")


def _stripe_rows(warehouse: DuckdbWarehouse) -> dict[str, dict]:
    columns = [
        "external_id",
        "project_id",
        "type",
        "status",
        "amount",
        "fee_amount",
        "net_amount",
        "currency",
        "presentment_amount",
        "presentment_currency",
        "product_id",
        "sku_id",
        "mapping_status",
        "mapping_note",
        "created_at",
    ]
    rows = warehouse.query(
        f"select {', '.join(columns)} from marts.transactions where source = 'stripe'"
    )
    return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}


def test_stripe_net_per_account_and_currency_equals_the_balance_transactions(
    built_warehouse: DuckdbWarehouse,
) -> None:
    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for bt in built_warehouse.scenario.table("stripe", "balance_transactions"):
        if bt["type"].startswith(NOT_TRANSACTIONS):
            continue
        totals = expected[(bt["account_id"], bt["currency"])]
        totals[0] += bt["amount"]
        totals[1] += bt["fee"]
        totals[2] += bt["net"]
    actual = built_warehouse.query(
        "select stripe_account_id, currency, sum(amount), sum(fee_amount), sum(net_amount) from marts.transactions "
        "where source = 'stripe' and balance_transaction_id is not null group by 1, 2"
    )
    assert {(a, c): [amt, fee, net] for a, c, amt, fee, net in actual} == dict(expected)
    # Written out by hand as well, so a bug in the fixture's arithmetic cannot hide one here.
    assert dict(expected)[("acct_platform", "usd")][2] == 4273
    assert dict(expected)[("acct_jp", "jpy")][2] == 1446 - 500 + 2892


def test_jpy_is_kept_in_yen_never_divided_by_100(built_warehouse: DuckdbWarehouse) -> None:
    rows = _stripe_rows(built_warehouse)
    assert (
        rows["txn_j1"]["amount"],
        rows["txn_j1"]["fee_amount"],
        rows["txn_j1"]["net_amount"],
    ) == (1500, 54, 1446)
    assert (rows["txn_j1"]["presentment_amount"], rows["txn_j1"]["presentment_currency"]) == (
        1500,
        "jpy",
    )
    assert rows["txn_j2"]["amount"] == -500


def test_charge_settled_at_an_exchange_rate_keeps_settlement_and_presentment_money(
    built_warehouse: DuckdbWarehouse,
) -> None:
    eur = _stripe_rows(built_warehouse)["txn_3"]
    assert (eur["amount"], eur["fee_amount"], eur["net_amount"], eur["currency"]) == (
        1100,
        62,
        1038,
        "usd",
    )
    assert (eur["presentment_amount"], eur["presentment_currency"]) == (1000, "eur")


def test_partial_refund_is_a_negative_row_attributed_to_the_charges_sku(
    built_warehouse: DuckdbWarehouse,
) -> None:
    refund = _stripe_rows(built_warehouse)["txn_2"]
    assert (
        refund["type"],
        refund["amount"],
        refund["net_amount"],
        refund["presentment_amount"],
    ) == ("refund", -500, -500, -500)
    assert (refund["product_id"], refund["sku_id"], refund["mapping_status"]) == (
        "app_prod_pro",
        "sku_pro_monthly",
        "mapped",
    )


def test_lost_dispute_withdraws_amount_and_fee_and_won_dispute_gives_both_back(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = _stripe_rows(built_warehouse)
    lost = rows["txn_6"]
    assert (
        lost["type"],
        lost["status"],
        lost["amount"],
        lost["fee_amount"],
        lost["net_amount"],
    ) == ("dispute", "lost", -5000, 1500, -6500)
    won_out, won_back = rows["txn_8"], rows["txn_9"]
    assert (won_out["type"], won_out["net_amount"]) == ("dispute", -2499)
    assert (
        won_back["type"],
        won_back["amount"],
        won_back["fee_amount"],
        won_back["net_amount"],
    ) == ("dispute_reversal", 999, -1500, 2499)
    assert won_out["net_amount"] + won_back["net_amount"] == 0


def test_failed_charge_is_a_row_with_zero_fee_and_net(built_warehouse: DuckdbWarehouse) -> None:
    failed = _stripe_rows(built_warehouse)["ch_5"]
    assert (
        failed["type"],
        failed["status"],
        failed["amount"],
        failed["fee_amount"],
        failed["net_amount"],
    ) == ("charge", "failed", 3000, 0, 0)
    assert (failed["product_id"], failed["sku_id"]) == ("app_prod_book", "sku_book")


def test_payouts_are_not_transactions(built_warehouse: DuckdbWarehouse) -> None:
    assert "txn_12" not in _stripe_rows(built_warehouse)


def test_every_stripe_payment_names_its_product_or_says_why_not(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = _stripe_rows(built_warehouse)
    got = {k: (r["product_id"], r["sku_id"], r["mapping_status"]) for k, r in rows.items()}
    assert got["txn_1"] == ("app_prod_pro", "sku_pro_monthly", "mapped")  # app_sku_id on the charge
    assert got["txn_3"] == (
        "app_prod_pro",
        "sku_pro_monthly",
        "mapped",
    )  # app_price_id on the intent
    assert got["txn_5"] == ("app_prod_team", None, "mapped")  # invoice line, price by stored id
    assert got["txn_6"] == ("app_prod_team", None, "mapped")  # the dispute follows its charge
    assert got["txn_7"] == (None, None, "unmapped")
    assert got["txn_10"] == (None, None, "unmapped")
    assert got["txn_13"] == (None, None, "ambiguous")  # invoice for the ambiguous Sticker
    assert got["txn_j1"] == ("app_prod_jp", "sku_jp", "mapped")
    assert "sku_gone" in rows["txn_10"]["mapping_note"]
    assert "no app_sku_id or app_price_id" in rows["txn_7"]["mapping_note"]
    assert all(r["mapping_note"] for r in rows.values())


def test_payment_metadata_project_wins_over_the_accounts_project(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = _stripe_rows(built_warehouse)
    assert rows["txn_j3"]["project_id"] == "proj_override"
    assert rows["txn_j1"]["project_id"] == "proj_b"  # the connected account's project (ops store)
    assert rows["txn_1"]["project_id"] == "default"  # the platform's own account


def test_host_app_transactions_are_included_except_stripe_mirrors(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select transaction_id, amount, currency, mapping_status from marts.transactions where source <> 'stripe' order by 1"
    )
    assert rows == [
        ("invoice:at_3", 5000, "eur", "unmapped"),
        ("manual:at_1", 10000, "usd", "mapped"),
    ]


def test_product_map_follows_metadata_then_stored_id_then_name(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select stripe_product_id, product_id, match_method, mapping_status from marts.stripe_product_map"
    )
    assert {r[0]: r[1:] for r in rows} == {
        "prod_pro": ("app_prod_pro", "metadata", "mapped"),
        "prod_team": ("app_prod_team", "stored_id", "mapped"),
        "prod_book": ("app_prod_book", "name", "inferred"),
        "prod_mystery": (None, None, "unmapped"),
        "prod_sticker": (None, "name", "ambiguous"),
        "prod_jp": ("app_prod_jp", "metadata", "mapped"),
    }  # prod_deleted is deleted in Stripe: not in the map


def test_price_map_follows_metadata_then_stored_id_then_product_and_terms(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select stripe_price_id, price_id, product_id, match_method, mapping_status from marts.stripe_price_map"
    )
    assert {r[0]: r[1:] for r in rows} == {
        "price_pro": ("app_price_pro", "app_prod_pro", "metadata", "mapped"),
        "price_team": ("app_price_team", "app_prod_team", "stored_id", "mapped"),
        "price_book": ("app_price_book", "app_prod_book", "product_terms", "inferred"),
        "price_sticker": (None, None, None, "unmapped"),
        "price_jp": ("app_price_jp", "app_prod_jp", "metadata", "mapped"),
    }


def test_catalog_mismatches_give_one_badge_and_hint_per_problem(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select badge, coalesce(stripe_id, internal_id), hint from marts.catalog_mismatches"
    )
    badges = {(badge, subject) for badge, subject, _ in rows}
    assert ("unmapped_in_app", "prod_mystery") in badges
    assert ("ambiguous_match", "prod_sticker") in badges
    assert ("inferred_match", "prod_book") in badges
    assert ("missing_in_stripe", "app_prod_orphan") in badges
    # The two "Sticker" products are candidates of the ambiguous match, not missing in Stripe.
    assert not any(b == "missing_in_stripe" and s.startswith("app_prod_sticker") for b, s in badges)
    assert ("price_mismatch", "price_team") in badges
    assert ("archived_in_stripe", "prod_team") in badges
    assert not any(subject in ("prod_pro", "price_pro", "prod_jp") for _, subject in badges)
    hint = next(h for b, s, h in rows if b == "price_mismatch")
    assert "5000 usd" in hint and "4500 usd" in hint


def test_analytics_daily_matches_sums_by_day_project_source_and_currency(
    built_warehouse: DuckdbWarehouse,
) -> None:
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in built_warehouse.query(
        "select created_at, project_id, source, currency, amount, fee_amount, net_amount, type, status from marts.transactions"
    ):
        created, project, source, currency, amount, fee, net, kind, status = r
        key = (created.date(), project, source, currency)
        expected[key][0] += amount if kind == "charge" and status != "failed" else 0
        expected[key][1] += fee
        expected[key][2] += net
    actual = built_warehouse.query(
        "select date_day, project_id, source, currency, gross_amount, fee_amount, net_amount from marts.analytics_daily"
    )
    assert {r[:4]: list(r[4:]) for r in actual} == dict(expected)
    # And one day by hand: 2026-01-06, platform, USD: 5000 charge, -500 refund, -5000 lost dispute.
    day2 = built_warehouse.query(
        "select gross_amount, refund_amount, dispute_amount, fee_amount, net_amount, charge_count from marts.analytics_daily "
        "where date_day = date '2026-01-06' and project_id = 'default' and source = 'stripe' and currency = 'usd'"
    )
    assert day2 == [(5000, -500, -5000, 175 + 1500, 4825 - 500 - 6500, 1)]


def test_payment_conversion_counts_created_succeeded_failed(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select payment_intents_created, payment_intents_succeeded, payment_intents_failed, payment_intents_canceled "
        "from marts.analytics_payment_conversion where date_day = date '2026-01-07' and project_id = 'default'"
    )
    assert rows == [(5, 3, 1, 1)]  # pi_4, pi_6, pi_7 succeeded; pi_5 declined; pi_8 canceled


def test_connector_health_tells_connected_failing_and_disconnected_apart(
    built_warehouse: DuckdbWarehouse,
) -> None:
    rows = built_warehouse.query(
        "select stripe_account_id, status, last_error, pending_webhook_events, events_lag_seconds, rows_in_last_sync from marts.connector_health"
    )
    health = {r[0]: r[1:] for r in rows}
    assert health["acct_platform"][0] == "connected"
    assert health["acct_platform"][4] == 10 + 12  # the rows its latest sync landed
    status, error, pending, lag, rows_in_sync = health["acct_jp"]
    assert status == "failing" and "401" in error
    assert (
        pending == 1 and 9 * 60 <= lag < 60 * 60
    )  # received 10 minutes before the fixture was built
    assert rows_in_sync > 0
    assert health["acct_gone"][0] == "disconnected"


def test_events_stream_has_sync_webhook_and_transaction_events(
    built_warehouse: DuckdbWarehouse,
) -> None:
    counts = dict(built_warehouse.query("select event_name, count(*) from marts.events group by 1"))
    n_transactions = built_warehouse.query("select count(*) from marts.transactions")[0][0]
    assert counts == {
        "stripe.sync.started": 4,  # two runs remembered per account
        "stripe.webhook.received": 2,
        "transaction.created": n_transactions,
    }


def test_marts_are_in_schema_marts_and_timestamps_are_utc(built_warehouse: DuckdbWarehouse) -> None:
    schemas = {
        r[0]
        for r in built_warehouse.query(
            "select distinct table_schema from information_schema.tables"
        )
    }
    assert {"staging", "intermediate", "marts"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)
    created = built_warehouse.query(
        "select created_at from marts.transactions where external_id = 'txn_1'"
    )[0][0]
    assert created == datetime(2026, 1, 5, 12, tzinfo=UTC).replace(tzinfo=None)
    assert built_warehouse.query("select min(date_day) from marts.analytics_daily")[0][0] == date(
        2026, 1, 5
    )
