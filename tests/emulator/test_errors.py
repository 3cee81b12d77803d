"""Errors in Stripe's words and shape: unknown parameters, missing objects, bad keys, foreign
accounts; Request-Id and Stripe-Version on every response."""

from __future__ import annotations

import httpx
import stripe

from tests.emulator.helpers import get


def test_unknown_parameter_is_a_400_that_names_it(emulator):
    response = get(emulator, "/v1/charges", {"foo": "bar"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "message": "Received unknown parameter: foo",
        "param": "foo",
        "request_log_url": error["request_log_url"],
        "type": "invalid_request_error",
    }
    assert response.headers["request-id"] in error["request_log_url"]


def test_unknown_id_is_a_404_resource_missing(emulator):
    response = get(emulator, "/v1/charges/ch_x")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "resource_missing"
    assert error["message"] == "No such charge: 'ch_x'"
    assert error["param"] == "id"
    response = get(emulator, "/v1/balance_transactions/txn_x")
    assert response.json()["error"]["message"] == "No such balance transaction: 'txn_x'"


def test_an_id_of_another_type_is_not_found(emulator):
    refund = get(emulator, "/v1/refunds", {"limit": 1}).json()["data"][0]
    assert get(emulator, f"/v1/charges/{refund['id']}").status_code == 404


def test_missing_api_key_is_a_401(emulator):
    response = httpx.get(emulator.url("/v1/charges"))
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You did not provide an API key.")


def test_invalid_api_key_is_a_401_that_never_echoes_the_key(emulator):
    key = "sk_test_51SecretValueThatMustNotLeakabcd"
    response = get(emulator, "/v1/charges", key=key)
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message.startswith("Invalid API Key provided: sk_test_")
    assert message.endswith("abcd")
    assert "SecretValue" not in response.text


def test_basic_auth_with_the_key_as_username_works(emulator):
    response = httpx.get(emulator.url("/v1/charges"), auth=(emulator.api_key, ""))
    assert response.status_code == 200


def test_stripe_account_not_connected_to_the_platform_is_a_403(emulator):
    stranger = next(
        a
        for a in emulator.store.accounts
        if a != emulator.platform_account_id and a not in emulator.connected_account_ids
    )
    for account in (stranger, "acct_1DoesNotExist00"):
        response = get(emulator, "/v1/charges", account=account)
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "account_invalid"
        assert error["type"] == "invalid_request_error"
        assert f"does not have access to account '{account}'" in error["message"]
        assert emulator.api_key not in error["message"]
    try:
        emulator.client(stripe_account=stranger).v1.charges.list()
    except stripe.PermissionError as exc:
        assert exc.http_status == 403
    else:
        raise AssertionError("listing a foreign account's charges must fail")


def test_unknown_expansion_is_a_400(emulator):
    charge = get(emulator, "/v1/charges", {"limit": 1}).json()["data"][0]
    response = get(emulator, f"/v1/charges/{charge['id']}", {"expand[]": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "This property cannot be expanded (nope)."
    listed = get(emulator, "/v1/charges", {"expand[]": "balance_transaction"})
    assert listed.status_code == 400


def test_unrecognized_url_is_a_404(emulator):
    response = get(emulator, "/v1/nothing_here")
    assert response.status_code == 404
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in response.json()["error"]["message"]


def test_every_response_has_a_request_id_and_the_stripe_version(emulator):
    ok = get(emulator, "/v1/charges")
    bad = get(emulator, "/v1/charges/ch_x")
    for response in (ok, bad):
        assert response.headers["request-id"].startswith("req_")
        assert response.headers["stripe-version"] == "2026-10-28.endive"
    pinned = httpx.get(
        emulator.url("/v1/charges"),
        headers={
            "Authorization": f"Bearer {emulator.api_key}",
            "Stripe-Version": "2025-03-31.basil",
        },
    )
    assert pinned.headers["stripe-version"] == "2025-03-31.basil"


def test_an_emulator_bug_answers_a_stripe_shaped_500(emulator):
    def broken(request):
        raise RuntimeError("boom")

    emulator.app.router.add("GET", "/v1/_broken", broken)
    response = get(emulator, "/v1/_broken")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"
    assert response.headers["request-id"].startswith("req_")


def test_an_invalid_stripe_version_is_a_400(emulator):
    response = httpx.get(
        emulator.url("/v1/charges"),
        headers={"Authorization": f"Bearer {emulator.api_key}", "Stripe-Version": "yesterday"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid Stripe API version: yesterday"
