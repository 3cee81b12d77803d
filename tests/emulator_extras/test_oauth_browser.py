"""A browser on the emulator's connect.stripe.com page: clicking Connect or Deny redirects to
the platform's redirect_uri as Stripe does."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytestmark = pytest.mark.browser


def _authorize_url(emu, redirect_uri: str, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": emu.client_id,
        "scope": "read_only",
        "state": state,
        "redirect_uri": redirect_uri,
    }
    return emu.url("/oauth/authorize?" + urlencode(query))


@pytest.mark.parametrize(("button", "expected"), [("Connect", "code"), ("Deny", "error")])
def test_clicking_a_button_redirects_to_the_platform(emulator, chromium_path, button, expected):
    from playwright.sync_api import sync_playwright

    # Any page will do as the redirect target: the test reads the address it was sent to.
    redirect_uri = emulator.url("/v1/account")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(_authorize_url(emulator, redirect_uri, state="browser-state"))
            page.get_by_role("button", name=button, exact=True).click()
            page.wait_for_url(re.compile(r".*/v1/account\?.*"))
            query = parse_qs(urlsplit(page.url).query)
        finally:
            browser.close()
    assert query["state"] == ["browser-state"]
    assert expected in query
    if expected == "error":
        assert query["error"] == ["access_denied"]
