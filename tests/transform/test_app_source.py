"""stripe_pipeline.app_source: the host-app and ops-store copies into the warehouse, and the demo
host-app database built from the emulator's catalog."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from stripe_emulator.generator import catalog
from stripe_pipeline.app_source import create_demo_app_database, load_app_data, load_ops_data
from stripe_pipeline.ops_store import tables as ops_tables
from stripe_pipeline.settings import ConfigError, Settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, warehouse_path=tmp_path / "warehouse.duckdb", **overrides)


def _columns(path: Path, schema: str, table: str) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute(f"describe {schema}.{table}").fetchall()]
    finally:
        con.close()


def test_demo_app_database_matches_the_emulators_catalog(tmp_path: Path) -> None:
    cat = catalog(7, 0)
    path = create_demo_app_database(tmp_path / "app.sqlite", cat)
    con = sqlite3.connect(path)
    try:
        skus = {r[0] for r in con.execute("select id from skus")}
        products = dict(con.execute("select name, coalesce(stripe_product_id, '') from products"))
        prices = dict(con.execute("select id, unit_amount from prices"))
    finally:
        con.close()
    # Every SKU the emulator's payments can name exists, so payment metadata leads to it.
    assert skus == {p.app_sku_id for p in cat.prices if p.app_sku_id}
    assert "Gift card" not in products  # deliberately unmapped
    assert "Consulting hours" in products  # internal only: missing in Stripe
    assert products["Tokyo workshop"] == cat.products[3].id  # mapped by stored Stripe id
    mismatched = [
        p for p in cat.prices if p.app_price_id and prices[p.app_price_id] != p.unit_amount
    ]
    assert [(p.app_price_id, prices[p.app_price_id] - p.unit_amount) for p in mismatched] == [
        ("price-0-1-0", 100)
    ]


def test_load_app_data_copies_the_host_app_tables(tmp_path: Path) -> None:
    create_demo_app_database(tmp_path / "app.sqlite", catalog(7, 0))
    settings = _settings(tmp_path, app_database_url=f"sqlite:///{tmp_path / 'app.sqlite'}")
    summary = load_app_data(settings)
    assert summary.loaded_tables == ("projects", "products", "prices", "skus", "transactions")
    assert {
        "id",
        "project_id",
        "product_id",
        "stripe_price_id",
        "unit_amount",
        "currency",
        "interval",
        "active",
    } <= set(_columns(settings.warehouse_path, "app", "prices"))


def test_load_app_data_without_a_url_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="APP_DATABASE_URL"):
        load_app_data(_settings(tmp_path))


def test_load_ops_data_never_lands_webhook_payloads_and_tolerates_missing_tables(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    engine = sa.create_engine(url)
    ops_tables.metadata.create_all(
        engine, tables=[ops_tables.stripe_webhook_events, ops_tables.stripe_accounts]
    )
    now = datetime.now(UTC)
    with engine.begin() as con:
        con.execute(ops_tables.stripe_webhook_events.insert().values(
            id="evt_1", account_id="acct_1", type="charge.succeeded", livemode=False, payload_hash="h" * 64,
            payload='{"secret": "card data would be here"}', received_at=now, status="received",
        ))  # fmt: skip
    engine.dispose()

    with caplog.at_level(logging.WARNING, logger="stripe_pipeline.app_source"):
        summary = load_ops_data(_settings(tmp_path, ops_database_url=url))
    assert summary.loaded_tables == ("stripe_accounts", "stripe_webhook_events")
    assert set(summary.missing_tables) == {"sync_requests", "connector_sync_state"}
    assert "sync_requests" in caplog.text
    columns = _columns(tmp_path / "warehouse.duckdb", "ops", "stripe_webhook_events")
    assert "payload_hash" in columns and "payload" not in columns
