"""Injected faults answer as Stripe does: the 429 body and header, 5xx api_error, lock timeouts,
a dropped connection the SDK reports as a network error; deterministic under a seed."""

from __future__ import annotations

import httpx
import pytest
import stripe

from stripe_emulator.faults import FaultConfig, FaultInjector


def _set_faults(base_url: str, **options: object) -> dict:
    response = httpx.post(f"{base_url}/_emulator/faults", json=options)
    assert response.status_code == 200, response.text
    return response.json()


def test_rate_limit_answers_429_with_stripes_body(make_emulator):
    emu = make_emulator(faults={"rate_limit": 1, "burst": 2})
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    answers = [httpx.get(emu.url("/v1/products"), headers=headers) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    limited = answers[-1]
    error = limited.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "rate_limit"
    assert error["message"].startswith("Request rate limit exceeded.")


def test_the_sdk_raises_rate_limit_error_on_429(make_emulator):
    emu = make_emulator(faults={"rate_limit": 1, "burst": 1})
    client = emu.client()
    client.v1.products.list()
    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.products.list()
    assert raised.value.http_status == 429
    assert raised.value.error.code == "rate_limit"


def test_rate_limit_is_per_account(make_emulator):
    emu = make_emulator(faults={"rate_limit": 1, "burst": 1})
    platform, connected = emu.client(), emu.client(stripe_account=emu.connected_account_ids[0])
    platform.v1.products.list()
    connected.v1.products.list()  # its own bucket: not limited by the platform's call
    with pytest.raises(stripe.RateLimitError):
        platform.v1.products.list()


def test_faults_turn_on_and_off_at_run_time_and_spare_admin_routes(emulator):
    client = emulator.client()
    client.v1.products.list()
    state = _set_faults(emulator.base_url, error_rate=1.0, error_statuses=[503])
    assert state["faults"]["error_rate"] == 1.0
    with pytest.raises(stripe.APIError) as raised:
        client.v1.products.list()
    assert raised.value.http_status == 503
    assert raised.value.error.type == "api_error"

    assert httpx.delete(emulator.url("/_emulator/faults")).status_code == 200
    assert client.v1.products.list().object == "list"


def test_lock_timeout_is_a_429_the_sdk_would_retry(emulator):
    _set_faults(emulator.base_url, lock_timeout_rate=1.0)
    answer = httpx.get(
        emulator.url("/v1/charges"), headers={"Authorization": f"Bearer {emulator.api_key}"}
    )
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "lock_timeout"
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.headers["stripe-should-retry"] == "true"


def test_dropped_connection_is_a_network_error_not_an_answer(emulator):
    _set_faults(emulator.base_url, drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(emulator.url("/v1/charges"), headers={"Authorization": "Bearer x"})
    with pytest.raises(stripe.APIConnectionError) as raised:
        emulator.client().v1.charges.list()
    assert raised.value.should_retry  # what a real dropped connection makes the SDK think


def test_sdk_retries_through_transient_errors_with_its_own_retries(emulator):
    _set_faults(emulator.base_url, error_rate=0.5, seed=3)
    client = emulator.client(max_network_retries=8)
    for _ in range(5):
        assert client.v1.customers.list({"limit": 1}).object == "list"


def test_unknown_fault_option_is_a_400_naming_it(emulator):
    response = httpx.post(emulator.url("/_emulator/faults"), json={"error_rat": 0.5})
    assert response.status_code == 400
    assert "error_rat" in response.json()["error"]["message"]


def test_same_seed_same_faults():
    def run() -> list[str | None]:
        injector = FaultInjector(FaultConfig(error_rate=0.3, drop_rate=0.1, seed=11))
        return [injector.decide("/v1/charges", "acct_1")[0] for _ in range(200)]

    first = run()
    assert first == run()
    assert {"drop", None} <= set(first) and any(f and f.startswith("error:") for f in first)


def test_token_bucket_refills_at_the_configured_rate():
    now = [0.0]
    injector = FaultInjector(FaultConfig(rate_limit=25), clock=lambda: now[0])
    allowed = sum(injector.decide("/v1/x", "a")[0] is None for _ in range(40))
    assert allowed == 25  # one second's burst
    now[0] += 0.2  # 5 more tokens
    allowed = sum(injector.decide("/v1/x", "a")[0] is None for _ in range(40))
    assert allowed == 5


def test_rate_limit_429_is_plain_unless_the_retry_header_is_asked_for(make_emulator):
    headers_by_option = {}
    for option in (False, True):
        emu = make_emulator(faults={"rate_limit": 1, "burst": 1, "rate_limit_retry_header": option})
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        httpx.get(emu.url("/v1/products"), headers=headers)
        limited = httpx.get(emu.url("/v1/products"), headers=headers)
        assert limited.status_code == 429
        headers_by_option[option] = limited.headers.get("stripe-should-retry")
    assert headers_by_option == {False: None, True: "true"}


def test_rate_limit_429_is_the_default_without_the_retry_header(make_emulator):
    emu = make_emulator(faults={"rate_limit": 1, "burst": 1})
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    httpx.get(emu.url("/v1/products"), headers=headers)
    limited = httpx.get(emu.url("/v1/products"), headers=headers)
    assert limited.status_code == 429 and "stripe-should-retry" not in limited.headers
