"""Connect OAuth in a real (headless) browser: the listener's start route, Stripe's (emulated)
authorize page, the click, the listener's callback page, and what the ops store then holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.browser import OAuthStack

pytestmark = pytest.mark.browser


def _open_start_page(chromium, stack: OAuthStack, project_id: str):
    """A page that has followed oauth/start to Stripe's authorize page. The operator token goes
    on the start request only (route interception), as the host app's backend would add it:
    Stripe's page and the callback must not see it."""
    context = chromium.new_context()
    page = context.new_page()
    seen_tokens: list[str] = []

    def add_token(route):
        # Fetched here and handed to the page as is: the browser follows the 302 itself, so
        # the header cannot ride along on the redirect (route.continue_ would carry it).
        answer = route.fetch(
            headers={**route.request.headers, "authorization": f"Bearer {stack.operator_token}"},
            max_redirects=0,
        )
        route.fulfill(response=answer)

    page.route(re.compile(r".*/api/integrations/stripe/oauth/start.*"), add_token)
    page.on(
        "request",
        lambda request: (
            seen_tokens.append(request.url)
            if "authorization" in request.headers and "/oauth/start" not in request.url
            else None
        ),
    )
    page.goto(f"{stack.start_url}?project_id={project_id}")
    page.wait_for_url(re.compile(re.escape(stack.emulator.base_url) + r"/oauth/authorize\?.*"))
    return page, seen_tokens


def test_clicking_connect_on_stripes_page_connects_the_account_to_the_project(
    chromium, oauth_stack: OAuthStack, tmp_path: Path
) -> None:
    page, seen_tokens = _open_start_page(chromium, oauth_stack, "proj-browser")
    assert "Connect your Stripe account" in page.content()
    assert "read-only access" in page.content()
    page.screenshot(path=str(tmp_path / "stripe-authorize.png"))

    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_url(
        re.compile(
            re.escape(oauth_stack.listener_url) + r"/api/integrations/stripe/oauth/callback\?.*"
        )
    )
    page.screenshot(path=str(tmp_path / "listener-connected.png"))

    [account] = oauth_stack.store.connected_accounts()
    assert (account.project_id, account.status, account.scope) == (
        "proj-browser",
        "connected",
        "read_only",
    )
    heading = page.locator("h1").inner_text()
    assert "connected" in heading.lower()
    assert account.stripe_account_id in page.content()
    assert "proj-browser" in page.content()
    # The bearer token went to the listener's start route and nowhere else.
    assert seen_tokens == []


def test_denying_on_stripes_page_shows_a_clear_page_and_stores_nothing(
    chromium, oauth_stack: OAuthStack, tmp_path: Path
) -> None:
    page, _ = _open_start_page(chromium, oauth_stack, "proj-browser")

    page.get_by_role("button", name="Deny", exact=True).click()
    page.wait_for_url(
        re.compile(
            re.escape(oauth_stack.listener_url) + r"/api/integrations/stripe/oauth/callback\?.*"
        )
    )
    page.screenshot(path=str(tmp_path / "listener-denied.png"))

    text = page.locator("body").inner_text()
    assert "cancelled" in page.locator("h1").inner_text().lower()
    assert "access was denied" in text and "Nothing was stored" in text
    assert oauth_stack.store.connected_accounts(include_disconnected=True) == []


def test_the_start_route_refuses_a_browser_without_the_operator_token(
    chromium, oauth_stack: OAuthStack
) -> None:
    page = chromium.new_page()
    answer = page.goto(f"{oauth_stack.start_url}?project_id=proj-browser")
    assert answer is not None and answer.status == 401
    assert oauth_stack.emulator.base_url not in page.url
    assert oauth_stack.store.connected_accounts(include_disconnected=True) == []
