"""connect.stripe.com's OAuth: the authorize page's two buttons, the token exchange that
connects an account, deauthorization, and Stripe's OAuth error bodies."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

REDIRECT = "http://127.0.0.1:9/callback"


def _authorize(emu, decision: str, state: str = "st-1", **extra: str) -> dict[str, list[str]]:
    """Open the authorize page, then submit its form with one of its buttons."""
    params = {
        "response_type": "code",
        "client_id": emu.client_id,
        "scope": "read_only",
        "state": state,
        "redirect_uri": REDIRECT,
        **extra,
    }
    page = httpx.get(emu.url("/oauth/authorize"), params=params)
    assert page.status_code == 200
    assert re.search(r"<button[^>]*>Connect</button>", page.text)
    assert re.search(r"<button[^>]*>Deny</button>", page.text)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    answer = httpx.post(emu.url("/oauth/authorize"), data={**fields, "decision": decision})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def test_connect_then_token_connects_the_account(emulator):
    query = _authorize(emulator, "connect")
    assert query["state"] == ["st-1"]
    code = query["code"][0]
    assert code.startswith("ac_")

    client = emulator.client()
    token = client.oauth.token({"grant_type": "authorization_code", "code": code})
    assert token.token_type == "bearer"
    assert token.scope == "read_only"
    assert token.livemode is False
    assert token.access_token.startswith("sk_test_")
    assert token.refresh_token.startswith("rt_")
    assert token.stripe_publishable_key.startswith("pk_test_")
    account_id = token.stripe_user_id
    assert account_id not in emulator.connected_account_ids

    connected = emulator.client(stripe_account=account_id)
    assert connected.v1.charges.list({"limit": 3}).object == "list"
    assert account_id in [a.id for a in client.v1.accounts.list({"limit": 100}).data]


def test_deny_redirects_with_access_denied(emulator):
    query = _authorize(emulator, "deny", state="st-2")
    assert query["error"] == ["access_denied"]
    assert query["error_description"] == ["The user denied your request"]
    assert query["state"] == ["st-2"]
    assert "code" not in query


def test_unknown_client_id_shows_an_error_page(emulator):
    page = httpx.get(
        emulator.url("/oauth/authorize"),
        params={"response_type": "code", "client_id": "ca_nope", "redirect_uri": REDIRECT},
    )
    assert page.status_code == 400
    assert "No such application" in page.text and "<button" not in page.text


def test_a_code_works_once(emulator):
    code = _authorize(emulator, "connect")["code"][0]
    client = emulator.client()
    client.oauth.token({"grant_type": "authorization_code", "code": code})
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as raised:
        client.oauth.token({"grant_type": "authorization_code", "code": code})
    assert raised.value.http_status == 400
    assert raised.value.json_body["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "authorization_code", "code": "ac_unknown"}, "invalid_grant"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"code": "ac_x"}, "invalid_request"),
        ({"grant_type": "password", "code": "ac_x"}, "unsupported_grant_type"),
    ],
)
def test_token_errors_are_stripes_oauth_bodies(emulator, form, error):
    answer = httpx.post(
        emulator.url("/oauth/token"),
        data=form,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error


def test_a_wrong_secret_is_invalid_client_and_is_not_echoed(emulator):
    secret = "sk_test_wrong_secret_1234567890"
    answer = httpx.post(
        emulator.url("/oauth/token"),
        data={"grant_type": "authorization_code", "code": "ac_x", "client_secret": secret},
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert secret not in answer.text


def test_deauthorize_disconnects_and_tells_the_platform(emulator, webhook_receiver):
    client = emulator.client(client_id=emulator.client_id)
    client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["*"], "connect": True}
    )
    account_id = emulator.connected_account_ids[0]

    answer = client.oauth.deauthorize({"stripe_user_id": account_id}, {})
    assert answer.stripe_user_id == account_id

    with pytest.raises(stripe.PermissionError) as raised:
        emulator.client(stripe_account=account_id).v1.charges.list()
    assert raised.value.http_status == 403
    events = webhook_receiver.wait_for_types("account.application.deauthorized")
    event = next(e for e in events if e["type"] == "account.application.deauthorized")
    assert event["account"] == account_id

    with pytest.raises(stripe.oauth_error.InvalidClientError):
        client.oauth.deauthorize({"stripe_user_id": account_id}, {})


def test_deauthorize_with_another_client_id_is_invalid_client(emulator):
    answer = httpx.post(
        emulator.url("/oauth/deauthorize"),
        data={"client_id": "ca_other", "stripe_user_id": emulator.connected_account_ids[0]},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


def _connect(emu, scope: str):
    query = _authorize(emu, "connect", scope=scope)
    return emu.client().oauth.token({"grant_type": "authorization_code", "code": query["code"][0]})


def test_a_read_only_connection_reads_but_cannot_write(emulator):
    token = _connect(emulator, "read_only")
    via_platform = emulator.client(stripe_account=token.stripe_user_id)
    assert via_platform.v1.products.list().object == "list"
    with pytest.raises(stripe.PermissionError) as raised:
        via_platform.v1.products.create({"name": "Not allowed"})
    assert raised.value.http_status == 403
    assert "read_write" in raised.value.user_message
    assert emulator.api_key not in raised.value.user_message

    own_key = stripe.StripeClient(
        token.access_token,
        base_addresses={"api": emulator.base_url, "connect": emulator.base_url},
        max_network_retries=0,
    )
    assert own_key.v1.accounts.retrieve_current().id == token.stripe_user_id
    with pytest.raises(stripe.PermissionError):
        own_key.v1.customers.create({"email": "x@example.com"})


def test_a_read_write_connection_can_write(emulator):
    token = _connect(emulator, "read_write")
    assert token.scope == "read_write"
    client = emulator.client(stripe_account=token.stripe_user_id)
    assert client.v1.products.create({"name": "Allowed"}).name == "Allowed"
