"""End to end: the Stripe emulator → the dlt Stripe source → the host-app and ops loaders → dbt.
The marts' money is compared with totals read through the stripe SDK, independently of the
pipeline; the catalog mapping with the demo host app built from the emulator's own catalog.

The emulator holds an account's real money (bank debits that fail, automatic payouts, Stripe
fees, invoice payments): every balance transaction but payouts is in `transactions` with its
net (docs/money.md), every paid automatic payout pays out the net of what it settled
(docs.stripe.com/reports/payout-reconciliation), today's balance is GET /v1/balance
(docs.stripe.com/payments/balances), and a subscription payment maps to its price's SKU through
its invoice payment (a charge names no invoice since API version 2025-03-31)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from stripe_emulator.generator import account_id as generated_account_id
from stripe_emulator.generator import catalog
from stripe_pipeline.app_source import create_demo_app_database, load_app_data, load_ops_data
from stripe_pipeline.ops_store import tables as ops_tables
from stripe_pipeline.settings import Settings
from tests.fixtures.transform import run_dbt

pytestmark = pytest.mark.slow

SEED = 7


def _client(emulator: Any, account: str) -> Any:
    header = None if account == emulator.platform_account_id else account
    return emulator.client(stripe_account=header)


def _sdk_money(emulator: Any, account: str) -> tuple[dict[str, int], int, dict[str, str]]:
    """Per settlement currency the net of the account's balance transactions (payouts are not
    transactions), the number of declined charges (failed without a balance transaction: a
    failed bank debit has one), and charge id → app_sku_id."""
    client = _client(emulator, account)
    net: dict[str, int] = defaultdict(int)
    for bt in client.v1.balance_transactions.list({"limit": 100}).auto_paging_iter():
        if not bt.type.startswith(("payout", "transfer")):
            net[bt.currency] += bt.net
    declined = 0
    skus: dict[str, str] = {}
    for charge in client.v1.charges.list({"limit": 100}).auto_paging_iter():
        declined += charge.status == "failed" and charge.balance_transaction is None
        sku = charge.metadata.to_dict().get("app_sku_id") if charge.metadata else None
        if sku:
            skus[charge.id] = sku
    return dict(net), declined, skus


def _sdk_invoice_skus(emulator: Any, account: str, account_number: int) -> dict[str, str]:
    """Payment intent → the SKU of the price on its paid invoice's line, for invoice-paid
    payments with no metadata (GET /v1/invoice_payments, then the invoice's lines)."""
    client = _client(emulator, account)
    sku_of_price = {p.id: p.app_sku_id for p in catalog(SEED, account_number).prices}
    out: dict[str, str] = {}
    for payment in client.v1.invoice_payments.list({"limit": 100}).auto_paging_iter():
        intent = payment.payment.payment_intent
        if payment.status != "paid" or intent is None:
            continue
        invoice = client.v1.invoices.retrieve(payment.invoice)
        prices = {line.pricing.price_details.price for line in invoice.lines.data}
        if len(prices) == 1:
            sku = sku_of_price.get(prices.pop())
            if sku:
                out[intent] = sku
    return out


def test_marts_from_the_emulator_match_the_stripe_sdk_totals(
    make_emulator: Any, tmp_path: Path
) -> None:
    emulator = make_emulator(seed=SEED, accounts=1, charges=80)
    accounts = [emulator.platform_account_id, *emulator.connected_account_ids]
    numbers = {generated_account_id(SEED, n): n for n in range(len(accounts) + 2)}
    settings = Settings(
        stripe_client_secret=emulator.api_key,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
        data_dir=tmp_path,
        warehouse_path=tmp_path / "warehouse.duckdb",
        rate_limit=1000.0,
        app_database_url=f"sqlite:///{tmp_path / 'app.sqlite'}",
        ops_database_url=f"sqlite:///{tmp_path / 'ops.sqlite'}",
        platform_project_id="project-0",
    )
    for account in accounts:
        result = emulator_sync(
            settings, None if account == emulator.platform_account_id else account
        )
        assert result.complete

    create_demo_app_database(tmp_path / "app.sqlite", [catalog(SEED, numbers[a]) for a in accounts])
    engine = sa.create_engine(settings.ops_database_url)
    ops_tables.metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as con:
        for account in emulator.connected_account_ids:
            con.execute(ops_tables.stripe_accounts.insert().values(
                stripe_account_id=account, project_id=f"project-{numbers[account]}", livemode=False,
                status="connected", scope="read_only", created_at=now, updated_at=now,
            ))  # fmt: skip
    engine.dispose()
    load_app_data(settings)
    load_ops_data(settings)

    env = {"DBT_TARGET": "duckdb", "WAREHOUSE_PATH": str(settings.warehouse_path)}
    built = run_dbt(
        ["build", "--vars", "{platform_project_id: project-0}"], env=env, work_dir=tmp_path
    )
    assert built.ok, built.output[-6000:]

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        for account in accounts:
            expected_net, expected_failed, charge_skus = _sdk_money(emulator, account)
            got_net = dict(con.execute(
                "select currency, sum(net_amount) from marts.transactions where source = 'stripe' "
                "and stripe_account_id = ? and balance_transaction_id is not null group by 1", [account],
            ).fetchall())  # fmt: skip
            assert got_net == expected_net, account
            got_failed = con.execute(
                "select count(*) from marts.transactions where stripe_account_id = ? and status = 'failed' and fee_amount = 0 and net_amount = 0",
                [account],
            ).fetchone()[0]
            assert got_failed == expected_failed, account
            got_skus = dict(con.execute(
                "select charge_id, sku_id from marts.transactions where stripe_account_id = ? and type = 'charge'", [account],
            ).fetchall())  # fmt: skip
            for charge_id, sku in charge_skus.items():
                assert got_skus.get(charge_id) == sku, (account, charge_id)
            assert expected_failed > 0 and charge_skus

            # Subscription payments map to their price's SKU: by metadata when they carry it,
            # else through their invoice payment.
            invoice_skus = _sdk_invoice_skus(emulator, account, numbers[account])
            got_invoice_skus = {
                intent: (sku, note) for intent, sku, note in con.execute(
                    "select c.payment_intent_id, t.sku_id, t.mapping_note from marts.transactions t "
                    "join staging.stg_stripe__charges c on t.charge_id = c.charge_id "
                    "where t.stripe_account_id = ? and t.type = 'charge'", [account],
                ).fetchall() if intent in invoice_skus
            }  # fmt: skip
            assert invoice_skus, account
            assert {k: v[0] for k, v in got_invoice_skus.items()} == invoice_skus, account
            assert any(v[1].startswith("the invoice lines") for v in got_invoice_skus.values())

            # Every paid automatic payout reconciles; the marts hold every payout as listed.
            client = _client(emulator, account)
            sdk_payouts = {
                p.id: (p.amount, p.status, p.automatic)
                for p in client.v1.payouts.list({"limit": 100}).auto_paging_iter()
            }
            got_payouts = {
                r[0]: r[1:] for r in con.execute(
                    "select payout_id, amount, status, automatic, transactions_net, reconciled "
                    "from marts.payouts where stripe_account_id = ?", [account],
                ).fetchall()
            }  # fmt: skip
            assert {k: v[:3] for k, v in got_payouts.items()} == sdk_payouts, account
            paid = [v for v in got_payouts.values() if v[1] == "paid" and v[2]]
            assert paid and all(v[3] == v[0] and v[4] is True for v in paid), account

            # Today's balance is GET /v1/balance.
            balance = client.v1.balance.retrieve()
            sdk_balance = {
                (b.currency, kind): b.amount
                for kind, items in (("available", balance.available), ("pending", balance.pending))
                for b in items
            }
            got_balance = {}
            for currency, available, pending in con.execute(
                "select currency, available_amount, pending_amount from marts.balances "
                "where stripe_account_id = ? and is_current", [account],
            ).fetchall():  # fmt: skip
                got_balance[(currency, "available")] = available
                got_balance[(currency, "pending")] = pending
            assert got_balance == {k: v for k, v in sdk_balance.items() if k in got_balance}
            assert all(v == 0 for k, v in sdk_balance.items() if k not in got_balance)

        methods = dict(con.execute(
            "select m.stripe_product_id, m.mapping_status || ':' || coalesce(m.match_method, '') from marts.stripe_product_map m "
            "where m.stripe_account_id = ?", [emulator.platform_account_id],
        ).fetchall())  # fmt: skip
        products = {p.index: p.id for p in catalog(SEED, 0).products}
        assert methods[products[0]] == "mapped:metadata"
        assert methods[products[2]] == "inferred:name"
        assert methods[products[3]] == "mapped:stored_id"
        assert methods[products[5]] == "unmapped:"
        badges = {
            r[0]
            for r in con.execute("select distinct badge from marts.catalog_mismatches").fetchall()
        }
        assert {
            "unmapped_in_app",
            "missing_in_stripe",
            "price_mismatch",
            "archived_in_stripe",
        } <= badges
    finally:
        con.close()


def emulator_sync(settings: Settings, account: str | None) -> Any:
    from stripe_pipeline.stripe_source import sync_account

    return sync_account(settings, account)
