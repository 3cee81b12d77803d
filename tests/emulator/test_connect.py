"""Connect: the Stripe-Account header scopes every call to that connected account."""

from __future__ import annotations

from tests.emulator.helpers import get, ids


def test_each_account_sees_only_its_own_data(emulator):
    platform = ids(get(emulator, "/v1/charges", {"limit": 100}))
    first, second = emulator.connected_account_ids
    a = ids(get(emulator, "/v1/charges", {"limit": 100}, account=first))
    b = ids(get(emulator, "/v1/charges", {"limit": 100}, account=second))
    assert len(a) == len(b) == len(platform) == 60
    assert not set(a) & set(b) and not set(a) & set(platform)
    assert get(emulator, f"/v1/charges/{a[0]}", account=first).status_code == 200
    assert get(emulator, f"/v1/charges/{a[0]}", account=second).status_code == 404
    assert get(emulator, f"/v1/charges/{a[0]}").status_code == 404


def test_account_endpoint_answers_for_the_scoped_account(emulator):
    assert get(emulator, "/v1/account").json()["id"] == emulator.platform_account_id
    connected = emulator.connected_account_ids[0]
    assert get(emulator, "/v1/account", account=connected).json()["id"] == connected


def test_accounts_lists_the_platforms_connected_accounts(emulator):
    listed = get(emulator, "/v1/accounts").json()
    assert listed["url"] == "/v1/accounts"
    assert sorted(o["id"] for o in listed["data"]) == sorted(emulator.connected_account_ids)
    one = get(emulator, f"/v1/accounts/{emulator.connected_account_ids[1]}").json()
    assert one["object"] == "account" and one["charges_enabled"] is True
    as_connected = get(emulator, "/v1/accounts", account=emulator.connected_account_ids[0])
    assert as_connected.json()["data"] == []


def test_events_of_a_connected_account_name_the_account(emulator):
    connected = emulator.connected_account_ids[0]
    event = get(emulator, "/v1/events", {"limit": 1}, account=connected).json()["data"][0]
    assert event["account"] == connected
    platform_event = get(emulator, "/v1/events", {"limit": 1}).json()["data"][0]
    assert "account" not in platform_event


def test_disconnected_account_is_refused(emulator):
    connected = emulator.connected_account_ids[0]
    emulator.store.disconnect(connected)
    assert get(emulator, "/v1/charges", account=connected).status_code == 403
    emulator.store.connect(connected)
    assert get(emulator, "/v1/charges", account=connected).status_code == 200


def test_sdk_client_with_stripe_account_reads_that_account(emulator):
    connected = emulator.connected_account_ids[1]
    client = emulator.client(stripe_account=connected)
    charge = client.v1.charges.list({"limit": 1}).data[0]
    assert client.v1.charges.retrieve(charge.id).id == charge.id
    assert get(emulator, "/v1/account", account=connected).json()["default_currency"]


def test_retrieving_an_account_not_connected_is_a_403(emulator):
    stranger = next(
        a
        for a in emulator.store.accounts
        if a != emulator.platform_account_id and a not in emulator.connected_account_ids
    )
    response = get(emulator, f"/v1/accounts/{stranger}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_invalid"
    emulator.store.connect(stranger)
    assert get(emulator, f"/v1/accounts/{stranger}").status_code == 200
    assert stranger in ids(get(emulator, "/v1/accounts"))
    assert get(emulator, "/v1/charges", account=stranger).status_code == 200
