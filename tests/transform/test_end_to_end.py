"""End to end: the Stripe emulator → the dlt Stripe source → the host-app and ops loaders → dbt.
The marts' money is compared with totals read through the stripe SDK, independently of the
pipeline; the catalog mapping with the demo host app built from the emulator's own catalog."""

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


def _sdk_money(emulator: Any, account: str) -> tuple[dict[str, int], int, dict[str, str]]:
    """Per settlement currency the net of the account's balance transactions (payouts and
    transfers are not transactions), the number of failed charges, and charge id → app_sku_id."""
    header = None if account == emulator.platform_account_id else account
    client = emulator.client(stripe_account=header)
    net: dict[str, int] = defaultdict(int)
    for bt in client.v1.balance_transactions.list({"limit": 100}).auto_paging_iter():
        if not bt.type.startswith(("payout", "transfer")):
            net[bt.currency] += bt.net
    failed = 0
    skus: dict[str, str] = {}
    for charge in client.v1.charges.list({"limit": 100}).auto_paging_iter():
        failed += charge.status == "failed"
        sku = charge.metadata.to_dict().get("app_sku_id") if charge.metadata else None
        if sku:
            skus[charge.id] = sku
    return dict(net), failed, skus


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
