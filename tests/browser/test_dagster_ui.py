"""The Dagster UI on the demo's instance, in headless Chromium: what a newcomer opens after the
demo must show the one graph from `stripe/*` to the marts, one partition per Stripe account, and
the demo's runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.browser import DemoRun, Webserver

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The UI loads its code location and renders graphs slowly on 2 busy cores.
UI_TIMEOUT_MS = 120_000


def _demo_accounts(demo_run: DemoRun) -> set[str]:
    serving = demo_run.data_dir / "serving" / "stripe.duckdb"
    with duckdb.connect(str(serving), read_only=True) as con:
        return {
            a
            for (a,) in con.execute(
                "select stripe_account_id from marts.stripe_accounts"
            ).fetchall()
        }


@pytest.fixture
def ui_page(chromium, dagster_webserver: Webserver):
    page = chromium.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    # A first visit may pop up Dagster's newsletter dialog over whatever the test looks at.
    page.add_locator_handler(
        page.get_by_role("button", name="Skip", exact=True),
        lambda button: button.click(),
    )
    yield page
    page.close()


def test_the_charges_asset_has_one_materialized_partition_per_stripe_account(
    ui_page, dagster_webserver: Webserver, demo_run: DemoRun, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    accounts = _demo_accounts(demo_run)
    connected = set(json.loads((demo_run.data_dir / "demo.json").read_text())["accounts"].values())
    assert len(accounts) == 3 and connected < accounts  # the platform and two OAuth accounts

    ui_page.goto(f"{dagster_webserver.base_url}/assets/stripe/charges?view=partitions")
    for account in sorted(accounts):
        expect(ui_page.get_by_text(account, exact=True).first).to_be_visible()
    expect(ui_page.get_by_text(re.compile(r"Materialized \(3\)"))).to_be_visible()
    expect(ui_page.get_by_text(re.compile(r"Missing \(0\)"))).to_be_visible()
    ui_page.screenshot(path=str(tmp_path / "stripe-charges-partitions.png"))


def test_the_lineage_runs_from_stripe_charges_to_the_marts_and_the_serving_copy(
    ui_page, dagster_webserver: Webserver, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    ui_page.goto(
        f"{dagster_webserver.base_url}/assets/stripe/charges"
        "?view=lineage&lineageScope=downstream&lineageDepth=5"
    )
    graph = ui_page.locator("body")
    # Node labels are short names; long ones are elided in the middle, so match whole short ones.
    for node in ("transactions", "analytics_daily", "connector_health", "stripe_product_map"):
        expect(graph.get_by_text(node, exact=True).first).to_be_visible()
    ui_page.screenshot(path=str(tmp_path / "stripe-charges-downstream.png"))

    ui_page.goto(
        f"{dagster_webserver.base_url}/assets/marts/transactions"
        "?view=lineage&lineageScope=upstream&lineageDepth=5"
    )
    for node in ("charges", "refunds", "disputes", "payment_intents"):
        expect(graph.get_by_text(node, exact=True).first).to_be_visible()
    expect(graph.get_by_text("stripe", exact=True).first).to_be_visible()
    ui_page.screenshot(path=str(tmp_path / "marts-transactions-upstream.png"))


def test_the_runs_page_lists_the_demos_runs(ui_page, dagster_webserver: Webserver) -> None:
    from playwright.sync_api import expect

    ui_page.goto(f"{dagster_webserver.base_url}/runs")
    expect(ui_page.get_by_text("marts_job").first).to_be_visible()
    expect(ui_page.get_by_text("stripe_ingest_job").first).to_be_visible()
