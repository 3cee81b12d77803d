"""OAuth start and the callback's state checks: signed, expiring, single-use, bound to a project.
(The code exchange against connect.stripe.com's double is in test_oauth_flow.py.)"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from webhook_listener.oauth_state import sign_state, state_key

PREFIX = "/api/integrations/stripe"


def _start(running, project_id: str = "p1") -> dict[str, str]:
    with running.operator() as client:
        answer = client.get(f"{PREFIX}/oauth/start", params={"project_id": project_id})
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == running.settings.connect_base + "/oauth/authorize"
    )
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _callback(running, **params: str):
    with running.client() as client:
        return client.get(f"{PREFIX}/oauth/callback", params=params)


def test_start_redirects_to_stripe_with_a_read_only_scope_and_our_callback(make_listener) -> None:
    running = make_listener(listener_public_url="https://pipeline.example.com")
    query = _start(running)
    assert query["response_type"] == "code"
    assert query["client_id"] == "ca_test_platform"
    assert query["scope"] == "read_only"
    assert (
        query["redirect_uri"]
        == "https://pipeline.example.com/api/integrations/stripe/oauth/callback"
    )
    assert len(query["state"]) > 40


def test_start_asks_for_read_write_only_when_catalog_write_is_on(make_listener) -> None:
    assert _start(make_listener(catalog_write_enabled=True))["scope"] == "read_write"


def test_start_needs_a_project_and_the_platform_credentials(make_listener, tmp_path) -> None:
    running = make_listener()
    with running.operator() as client:
        answer = client.get(f"{PREFIX}/oauth/start")
    assert answer.status_code == 400 and "project_id" in answer.json()["error"]
    unconfigured = make_listener(
        stripe_client_id="", ops_database_url=f"sqlite:///{tmp_path / 'b.sqlite'}"
    )
    with unconfigured.operator() as client:
        answer = client.get(f"{PREFIX}/oauth/start", params={"project_id": "p1"})
    assert answer.status_code == 503 and "STRIPE_CLIENT_ID" in answer.json()["error"]


def test_a_callback_without_state_is_refused(listener) -> None:
    answer = _callback(listener, code="ac_123")
    assert answer.status_code == 400
    assert "no state" in answer.text
    assert listener.store.connected_accounts(include_disconnected=True) == []


def test_a_forged_state_is_refused_and_nothing_stored(listener) -> None:
    real = _start(listener)["state"]
    project_b64, nonce, expires, _sig = real.split(".")
    forged_signature = f"{project_b64}.{nonce}.{expires}.AAAA"
    signed_with_another_key = sign_state(state_key("sk_test_attacker"), "p1", nonce, int(expires))
    for state in ("not-a-state", forged_signature, signed_with_another_key):
        answer = _callback(listener, state=state, code="ac_123")
        assert answer.status_code == 400
        assert "not issued by this server" in answer.text
    assert listener.store.connected_accounts(include_disconnected=True) == []
    # the real state was not burnt by the forgeries
    assert listener.store.consume_oauth_state(nonce) == "p1"


def test_a_state_moved_to_another_project_is_refused(listener) -> None:
    real = _start(listener, "p1")["state"]
    _p, nonce, expires, _sig = real.split(".")
    # An attacker cannot re-sign, so re-binding the nonce to p2 breaks the signature.
    moved = sign_state(state_key("sk_test_wrong"), "p2", nonce, int(expires))
    assert _callback(listener, state=moved, code="ac_1").status_code == 400


def test_an_expired_state_is_refused(listener) -> None:
    key = state_key(listener.settings.stripe_client_secret)
    record = listener.store.create_oauth_state("p1")
    expired = sign_state(key, "p1", record.nonce, int(time.time()) - 1)
    answer = _callback(listener, state=expired, code="ac_123")
    assert answer.status_code == 400
    assert "expired" in answer.text
    assert listener.store.connected_accounts(include_disconnected=True) == []


def test_a_state_is_single_use(listener) -> None:
    state = _start(listener)["state"]
    first = _callback(
        listener,
        state=state,
        error="access_denied",
        error_description="The user denied your request",
    )
    assert first.status_code == 400
    assert "access was denied" in first.text
    second = _callback(listener, state=state, code="ac_123")
    assert second.status_code == 400
    assert "already used" in second.text
    assert listener.store.connected_accounts(include_disconnected=True) == []


def test_callback_pages_are_never_cached(listener) -> None:
    answer = _callback(listener, state="x")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
