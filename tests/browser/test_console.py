"""The console in Debian's chromium: sign in, connect an account through Stripe's (emulated)
authorize page and disconnect it, filter transactions, toggle source chips, read catalog badges,
move through every page with the keyboard alone, and open it before any data exists.

The marts are the hand-computed scenario of tests/fixtures/transform.py (a real dbt build,
published); the emulator holds one account waiting to be connected. With
STRIPE_PIPELINE_UPDATE_SCREENSHOTS=1 the screenshots replace docs/img/console-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stripe_emulator.testing import EmulatorHandle
from tests.console.screenshots import small_screenshot
from tests.fixtures.browser import REPO_ROOT
from tests.fixtures.console import PublishedScenario, copy_serving, publish_new_transactions
from tests.fixtures.listener import RunningListener

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1200, "height": 760}
SCREENSHOT_DIR = REPO_ROOT / "docs" / "img"


@dataclass
class ConsoleStack:
    listener: RunningListener
    emulator: EmulatorHandle

    @property
    def url(self) -> str:
        return self.listener.base_url + "/console"


@pytest.fixture
def stack(published_scenario: PublishedScenario, console_listener, make_emulator) -> ConsoleStack:
    emulator = make_emulator(seed=11, accounts=0, unconnected_accounts=1, charges=5)
    listener = console_listener(
        published_scenario.serving_dir,
        stripe_client_secret=emulator.api_key,
        stripe_client_id=emulator.client_id,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
    )
    return ConsoleStack(listener, emulator)


@pytest.fixture
def page(chromium) -> Iterator[object]:
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page, name: str, tmp_path: Path) -> None:
    """Into docs/img when asked to update them (small: one viewport, 256 colours)."""
    update = os.environ.get("STRIPE_PIPELINE_UPDATE_SCREENSHOTS") == "1"
    small_screenshot(page, (SCREENSHOT_DIR if update else tmp_path) / f"console-{name}.png")


def sign_in(page, stack: ConsoleStack, path: str = "/connectors") -> None:
    page.goto(stack.url + path)
    page.get_by_label("Operator token").fill(stack.listener.settings.operator_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(stack.url + path)))


def connect_through_stripe(page, stack: ConsoleStack, project: str) -> str:
    """Connect on the Connectors page, accept on Stripe's page, land back on Connectors."""
    page.get_by_label("Project").fill(project)
    page.get_by_role("button", name="Connect with Stripe").click()
    page.wait_for_url(re.compile(re.escape(stack.emulator.base_url) + r"/oauth/authorize\?.*"))
    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_url(re.compile(re.escape(stack.url) + r"/connectors\?connected=acct_\w+"))
    [account] = stack.listener.store.connected_accounts(project_id=project)
    return account.stripe_account_id


def test_signing_in_with_the_operator_token_opens_the_page_asked_for(
    page, stack: ConsoleStack
) -> None:
    page.goto(stack.url + "/transactions?currency=jpy")
    assert "/console/login" in page.url
    page.get_by_label("Operator token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That is not the operator token."
    page.get_by_label("Operator token").fill(stack.listener.settings.operator_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.url + "/transactions?currency=jpy")
    assert page.locator("#totals tbody tr").count() == 1
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/console/login$"))
    page.goto(stack.url + "/catalog")
    assert "/console/login" in page.url


def test_connecting_an_account_on_stripes_page_shows_it_on_connectors(
    page, stack: ConsoleStack, tmp_path: Path
) -> None:
    sign_in(page, stack)
    account_id = connect_through_stripe(page, stack, "proj_new")
    assert (
        f"Stripe account {account_id} is connected" in page.get_by_role("status").first.inner_text()
    )
    row = page.locator(f'tr[data-account="{account_id}"]')
    assert row.locator("td").first.inner_text() == "proj_new"
    assert "connected" in row.locator(".badge.conn-connected").inner_text()
    assert row.get_by_role("button", name=re.compile("Sync now")).is_visible()
    screenshot(page, "connectors", tmp_path)

    row.get_by_role("button", name=re.compile("Sync now")).click()
    page.wait_for_url(re.compile(r".*/connectors\?sync=sync_\w+"))
    assert "pending" in page.locator("#sync-status .sync-state").inner_text()
    [queued] = stack.listener.store.pending_sync_requests()
    assert queued.account_id == account_id


def test_disconnecting_asks_for_confirmation_then_shows_the_account_disconnected(
    page, stack: ConsoleStack
) -> None:
    sign_in(page, stack)
    account_id = connect_through_stripe(page, stack, "proj_new")
    row = page.locator(f'tr[data-account="{account_id}"]')
    row.get_by_role("link", name=re.compile("Disconnect")).click()
    assert page.locator("h1").inner_text() == f"Disconnect {account_id}?"
    page.get_by_role("link", name="Cancel").click()
    assert stack.listener.store.get_account(account_id).status == "connected"

    row.get_by_role("link", name=re.compile("Disconnect")).click()
    page.get_by_role("button", name="Yes, disconnect").click()
    page.wait_for_url(re.compile(r".*/connectors\?disconnected=acct_\w+"))
    assert stack.listener.store.get_account(account_id).status == "disconnected"
    row = page.locator(f'tr[data-account="{account_id}"]')
    assert row.locator(".badge.conn-disconnected").inner_text() == "disconnected"
    # Disconnected: it can be connected again, not synced.
    assert row.get_by_role("button", name=re.compile("^Connect")).is_visible()
    assert row.get_by_role("button", name=re.compile("Sync now")).count() == 0


def _totals(page) -> dict[str, str]:
    return {
        row.get_attribute("data-currency"): row.inner_text()
        for row in page.locator("#totals tbody tr").all()
    }


def test_filtering_transactions_changes_the_totals_and_stays_in_the_url(
    page, stack: ConsoleStack, tmp_path: Path
) -> None:
    sign_in(page, stack, "/transactions")
    everything = _totals(page)
    assert set(everything) == {"eur", "jpy", "usd"}
    screenshot(page, "transactions", tmp_path)

    page.get_by_label("Currency").select_option("jpy")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*/transactions\?.*currency=jpy"))
    jpy = _totals(page)
    # Hand-computed: JPY charges 1500 and 3000 (fees 54 and 108), a refund of -500; no decimals.
    assert jpy == {"jpy": "JPY\t3\t4,000\t162\t3,838"}
    assert page.locator("#transactions tbody tr").count() == 3

    page.get_by_label("Type").select_option("refund")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*type=refund.*"))
    assert _totals(page) == {"jpy": "JPY\t1\t-500\t0\t-500"}
    page.reload()
    assert page.get_by_label("Currency").input_value() == "jpy"
    assert _totals(page) == {"jpy": "JPY\t1\t-500\t0\t-500"}

    page.get_by_role("link", name="Clear").click()
    assert _totals(page) == everything
    page.get_by_role("link", name=re.compile("^Net")).click()
    page.wait_for_url(re.compile(r".*sort=net$"))
    nets = page.locator("#transactions tbody tr td:nth-child(9)").all_inner_texts()
    # Largest first, in minor units: the manual 10000 (100.00 USD), then 4850 (48.50 EUR).
    assert nets[:2] == ["100.00", "48.50"]


def test_transactions_published_after_opening_the_page_are_announced_without_a_reload(
    page, published_scenario: PublishedScenario, console_listener, tmp_path: Path
) -> None:
    serving = copy_serving(published_scenario, tmp_path / "serving")
    stack = ConsoleStack(console_listener(serving), emulator=None)  # type: ignore[arg-type]
    sign_in(page, stack, "/transactions?currency=usd")
    page.evaluate("window.openedOnce = true")  # gone if the page ever reloads
    assert page.locator("#new-rows").is_hidden()
    publish_new_transactions(serving, "usd", 2)
    announcement = page.locator("#new-rows")
    announcement.wait_for(state="visible", timeout=20_000)
    assert announcement.inner_text().startswith("2 new transactions since you opened this page.")
    assert page.evaluate("window.openedOnce") is True
    announcement.get_by_role("link", name="Show them").click()
    page.wait_for_load_state()
    assert _totals(page)["usd"].startswith("USD\t15\t")


FIGURES = (
    "#selected-totals",
    "#stripe-title + *",
    "#money-at-stripe",
    "#app-title + *",
    "#daily",
    "#conversion",
)


def _figures(page) -> dict[str, str]:
    return {name: page.locator(name).first.inner_html() for name in FIGURES}


def test_toggling_a_source_chip_changes_every_figure_that_counts_it(
    page, stack: ConsoleStack, tmp_path: Path
) -> None:
    sign_in(page, stack, "/analytics")
    chips = page.locator(".chips .chip")
    assert chips.all_inner_texts() == ["stripe", "invoice", "manual"]
    before = _figures(page)
    screenshot(page, "analytics", tmp_path)
    page.evaluate("document.getElementById('daily').scrollIntoView()")
    screenshot(page, "analytics-charts", tmp_path)

    page.get_by_role("button", name="manual").click()
    page.wait_for_url(re.compile(r".*/analytics\?source=stripe&source=invoice$"))
    assert page.get_by_role("button", name="manual").get_attribute("aria-pressed") == "false"
    without_manual = _figures(page)
    changed = {name for name in FIGURES if without_manual[name] != before[name]}
    # Manual money is in the combined totals, the app's own sources and the daily USD chart;
    # the Stripe totals, balances, payouts and the payment conversion do not count it.
    assert changed == {"#selected-totals", "#app-title + *", "#daily"}

    page.get_by_role("button", name="stripe").click()
    page.wait_for_url(re.compile(r".*/analytics\?source=invoice$"))
    only_invoice = _figures(page)
    changed = {name for name in FIGURES if only_invoice[name] != without_manual[name]}
    assert changed == {
        "#selected-totals",
        "#stripe-title + *",
        "#money-at-stripe",
        "#daily",
        "#conversion",
    }
    assert "The stripe source is off." in page.locator("#stripe-title + *").inner_text()
    page.reload()
    assert _figures(page) == only_invoice


def test_the_catalog_shows_one_badge_and_a_hint_for_every_product_and_price(
    page, stack: ConsoleStack, tmp_path: Path
) -> None:
    sign_in(page, stack, "/catalog")
    rows = page.locator("#catalog tbody tr")
    assert rows.count() >= 9
    for row in rows.all():
        assert row.locator(".badge").count() == 1
        assert row.locator(".hint").count() >= 1
    badges = set(page.locator("#catalog tbody .badge").all_inner_texts())
    assert {
        "mapped",
        "inferred",
        "unmapped",
        "ambiguous",
        "archived in Stripe",
        "price mismatch",
        "missing in Stripe",
    } <= badges
    mismatch = page.locator('#catalog tr[data-badge="price_mismatch"]')
    assert (
        "5000 usd per month but internal price app_price_team is 4500 usd" in mismatch.inner_text()
    )
    screenshot(page, "catalog", tmp_path)
    page.locator(".badge-counts a", has_text="price mismatch").click()
    assert page.locator("#catalog tbody tr").count() == 1


FOCUSABLE = (
    "a[href], button, select, input:not([type=hidden]), textarea, [tabindex]:not([tabindex='-1'])"
)


def _tab_through(page) -> tuple[int, set[int]]:
    """Numbers every focusable element, presses Tab until focus wraps, returns how many there
    are and which ones the keyboard reached."""
    total = page.evaluate(
        """(selector) => {
            const all = [...document.querySelectorAll(selector)].filter(
                (el) => !el.disabled && el.getClientRects().length > 0 || el.classList.contains('skip'));
            all.forEach((el, i) => el.setAttribute('data-kbd', String(i)));
            return all.length;
        }""",
        FOCUSABLE,
    )
    reached: set[int] = set()
    for _ in range(total + 10):
        page.keyboard.press("Tab")
        found = page.evaluate("() => document.activeElement?.getAttribute('data-kbd')")
        if found is not None:
            reached.add(int(found))
    return total, reached


def test_keyboard_alone_reaches_every_control_on_every_page(page, stack: ConsoleStack) -> None:
    # Signing in without the mouse: the token field has focus, Enter submits.
    page.goto(stack.url + "/connectors")
    page.keyboard.type(stack.listener.settings.operator_token)
    page.keyboard.press("Enter")
    page.wait_for_url(stack.url + "/connectors")
    for path in ("/connectors", "/transactions", "/analytics", "/catalog"):
        page.goto(stack.url + path)
        total, reached = _tab_through(page)
        assert total > 5, path
        assert reached == set(range(total)), (
            f"{path}: Tab never reaches {set(range(total)) - reached}"
        )
    # And a control works from the keyboard: a chip toggles with Enter.
    page.goto(stack.url + "/analytics")
    page.get_by_role("button", name="manual").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*source=stripe&source=invoice$"))


def test_a_console_without_published_data_says_so_on_every_page(
    page, console_listener, tmp_path: Path
) -> None:
    listener = console_listener(tmp_path / "nothing-published-yet")
    stack = ConsoleStack(listener, emulator=None)  # type: ignore[arg-type]
    sign_in(page, stack)
    for path in ("/connectors", "/transactions", "/analytics", "/catalog"):
        page.goto(stack.url + path)
        notice = page.locator(".notice.empty").inner_text()
        assert notice.startswith("No published data yet"), path
