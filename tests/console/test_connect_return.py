"""Connect from the console comes back to the console: the real OAuth flow over HTTP (the
console's Connect form, the emulator's authorize page, the listener's callback), for an
accepted, a denied and a refused connection; a flow started by the operator API still gets the
callback's own page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fixtures.console import PublishedScenario, csrf_of, signed_in_client
from tests.fixtures.listener import RunningListener, authorize

CALLBACK = "/api/integrations/stripe/oauth/callback"


@pytest.fixture
def listener(published_scenario: PublishedScenario, console_listener, make_emulator):
    emulator = make_emulator(seed=5, accounts=0, unconnected_accounts=1, charges=3)
    return console_listener(
        published_scenario.serving_dir,
        stripe_client_secret=emulator.api_key,
        stripe_client_id=emulator.client_id,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
    )


def _connect_from_console(
    browser: httpx.Client,
    listener: RunningListener,
    project: str,
    decision: str = "connect",
    account: str | None = None,
) -> httpx.Response:
    """Press Connect, answer on Stripe's page, follow Stripe's redirect to the callback."""
    page = browser.get("/console/connectors")
    started = browser.post(
        "/console/connectors/connect",
        data={"csrf": csrf_of(page), "project_id": project},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    authorize_url = started.headers["location"]
    assert authorize_url.startswith(listener.settings.connect_base + "/oauth/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    if account:
        params["account"] = account
    action = authorize_url.split("?")[0]
    assert browser.get(action, params=params).status_code == 200
    answered = browser.post(action, data={**params, "decision": decision}, follow_redirects=False)
    assert answered.status_code == 302
    back = answered.headers["location"]
    assert back.startswith(listener.base_url + CALLBACK)
    return browser.get(back)


def test_an_accepted_connection_comes_back_to_connectors_saying_which_account(listener) -> None:
    with signed_in_client(listener) as browser:
        landed = _connect_from_console(browser, listener, "proj_console")
    [account] = listener.store.connected_accounts(project_id="proj_console")
    assert landed.url.path == "/console/connectors"
    assert landed.url.params["connected"] == account.stripe_account_id
    assert f"Stripe account {account.stripe_account_id} is connected." in landed.text
    assert f'data-account="{account.stripe_account_id}" data-project="proj_console"' in landed.text


def test_a_denied_connection_comes_back_saying_nothing_was_stored(listener) -> None:
    with signed_in_client(listener) as browser:
        landed = _connect_from_console(browser, listener, "proj_console", decision="deny")
    assert landed.url.path == "/console/connectors"
    assert "cancelled on Stripe&#39;s page; nothing was stored" in landed.text
    assert listener.store.connected_accounts(include_disconnected=True) == []


def test_an_account_of_another_project_comes_back_refused(listener) -> None:
    with signed_in_client(listener) as browser:
        _connect_from_console(browser, listener, "proj_a")
        [account] = listener.store.connected_accounts()
        landed = _connect_from_console(
            browser, listener, "proj_b", account=account.stripe_account_id
        )
    assert landed.url.path == "/console/connectors"
    assert (
        f"Stripe account {account.stripe_account_id} is already connected to project proj_a"
        in landed.text
    )
    assert listener.store.get_account(account.stripe_account_id).project_id == "proj_a"


def test_a_connection_started_by_the_operator_api_keeps_the_callbacks_own_page(listener) -> None:
    answer, _ = authorize(listener, "proj_api")
    assert answer.status_code == 200 and "Stripe account connected" in answer.text
