"""Connect Standard end to end against the emulator's connect.stripe.com: the operator starts,
the user clicks Connect (or Deny) on Stripe's page, the callback stores the account; then
disconnect, reconnect, catalog write, and Stripe's own webhooks flowing into the inbox."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from stripe_emulator import webhooks as emulator_webhooks
from tests.fixtures.listener import PREFIX, TEST_WEBHOOK_SECRET, authorize


@pytest.fixture
def connected_listener(make_listener, emulator):
    return make_listener(
        stripe_client_secret=emulator.api_key,
        stripe_client_id=emulator.client_id,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
        listener_public_url="http://listener.invalid",  # replaced below by the real address
    )


def test_connecting_stores_the_account_and_never_the_access_token(connected_listener) -> None:
    answer, returned = authorize(connected_listener, "p1")
    assert answer.status_code == 200, answer.text
    assert "connected" in answer.text
    [account] = connected_listener.store.connected_accounts()
    assert (account.project_id, account.status, account.scope, account.livemode) == (
        "p1",
        "connected",
        "read_only",
        False,
    )
    assert account.stripe_account_id.startswith("acct_")
    assert account.stripe_account_id in answer.text
    # no table holds a token: search every text column of the store for sk_/rt_ values
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(connected_listener.store.engine)
    with connected_listener.store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    assert not (isinstance(value, str) and value.startswith(("sk_", "rt_", "ac_")))


def test_denying_on_stripes_page_shows_a_clear_page_and_stores_nothing(connected_listener) -> None:
    answer, returned = authorize(connected_listener, "p1", decision="deny")
    assert returned["error"] == "access_denied"
    assert answer.status_code == 400
    assert "access was denied" in answer.text
    assert connected_listener.store.connected_accounts(include_disconnected=True) == []


def test_a_reused_authorization_code_gets_a_clear_page(connected_listener) -> None:
    first, returned = authorize(connected_listener, "p1")
    assert first.status_code == 200
    # a second, valid state with the already-exchanged code
    with connected_listener.operator() as operator:
        start = operator.get(f"{PREFIX}/oauth/start", params={"project_id": "p1"})
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    with connected_listener.client() as browser:
        again = browser.get(
            f"{PREFIX}/oauth/callback", params={"code": returned["code"], "state": state}
        )
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(connected_listener.store.connected_accounts(include_disconnected=True)) == 1


def test_replaying_the_whole_callback_url_is_refused_by_the_state(connected_listener) -> None:
    first, returned = authorize(connected_listener, "p1")
    with connected_listener.client() as browser:
        replay = browser.get(f"{PREFIX}/oauth/callback", params=returned)
    assert replay.status_code == 400
    assert "already used" in replay.text


def test_disconnect_deauthorizes_at_stripe_and_keeps_the_row_then_reconnect_reactivates(
    connected_listener, emulator
) -> None:
    _, _ = authorize(connected_listener, "p1")
    [account] = connected_listener.store.connected_accounts()
    with connected_listener.operator() as operator:
        answer = operator.post(
            f"{PREFIX}/disconnect", json={"account_id": account.stripe_account_id}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["disconnected"] == [account.stripe_account_id]
    assert connected_listener.store.connected_accounts() == []
    kept = connected_listener.store.get_account(account.stripe_account_id)
    assert kept.status == "disconnected"  # the row (and the data landed for it) stays
    assert not emulator.store.is_connected(account.stripe_account_id)

    answer, _ = authorize(connected_listener, "p1", account=account.stripe_account_id)
    assert answer.status_code == 200, answer.text
    again = connected_listener.store.get_account(account.stripe_account_id)
    assert again.status == "connected"
    assert again.created_at == kept.created_at


def test_disconnect_by_project_and_of_unknown_accounts(connected_listener) -> None:
    authorize(connected_listener, "p1")
    with connected_listener.operator() as operator:
        unknown = operator.post(f"{PREFIX}/disconnect", json={"account_id": "acct_unknown"})
        none = operator.post(f"{PREFIX}/disconnect", params={"project_id": "p_none"})
        by_project = operator.post(f"{PREFIX}/disconnect", params={"project_id": "p1"})
    assert unknown.status_code == 404 and "acct_unknown" in unknown.json()["error"]
    assert none.status_code == 404
    assert by_project.status_code == 200 and len(by_project.json()["disconnected"]) == 1
    assert connected_listener.store.connected_accounts() == []


def test_stripe_webhooks_reach_the_inbox_and_a_deauthorization_disconnects(
    connected_listener, emulator
) -> None:
    emulator_webhooks.add_startup_endpoint(
        emulator.store, connected_listener.base_url + f"{PREFIX}/webhook", TEST_WEBHOOK_SECRET
    )
    authorize(connected_listener, "p1")
    [account] = connected_listener.store.connected_accounts()
    # The account owner revokes access from their own dashboard: Stripe tells us by webhook.
    client = emulator.client()
    client.oauth.deauthorize(
        {"client_id": emulator.client_id, "stripe_user_id": account.stripe_account_id}
    )
    deadline = time.monotonic() + 15
    while connected_listener.store.get_account(account.stripe_account_id).status != "disconnected":
        assert time.monotonic() < deadline, (
            "the deauthorization webhook never disconnected the account"
        )
        time.sleep(0.1)
    events = [
        e
        for e in connected_listener.store.pending_webhook_events()
        if e.type == "account.application.deauthorized"
    ]
    assert [e.account_id for e in events] == [account.stripe_account_id]


@pytest.fixture
def writing_listener(make_listener, emulator):
    return make_listener(
        stripe_client_secret=emulator.api_key,
        stripe_client_id=emulator.client_id,
        api_base=emulator.base_url,
        connect_base=emulator.base_url,
        catalog_write_enabled=True,
    )


def test_catalog_write_creates_on_the_connected_account_once_per_internal_id(
    writing_listener, emulator
) -> None:
    answer, _ = authorize(writing_listener, "p1")
    assert answer.status_code == 200
    [account] = writing_listener.store.connected_accounts()
    assert account.scope == "read_write"
    product = {"project_id": "p1", "app_product_id": "prod_internal_42", "name": "Pro plan"}
    with writing_listener.operator() as operator:
        first = operator.post(f"{PREFIX}/products", json=product)
        retry = operator.post(f"{PREFIX}/products", json=product)
    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]  # the retry made no second product
    stripe_product = emulator.client(stripe_account=account.stripe_account_id).v1.products.retrieve(
        first.json()["id"]
    )
    assert stripe_product.metadata["app_product_id"] == "prod_internal_42"
    matching = [
        p
        for p in emulator.client(stripe_account=account.stripe_account_id)
        .v1.products.list({"limit": 100})
        .auto_paging_iter()
        if p.metadata.to_dict().get("app_product_id") == "prod_internal_42"
    ]
    assert len(matching) == 1

    price = {
        "account_id": account.stripe_account_id,
        "app_price_id": "price_internal_7",
        "product": first.json()["id"],
        "currency": "USD",
        "unit_amount": 1900,
        "recurring_interval": "month",
    }
    with writing_listener.operator() as operator:
        created = operator.post(f"{PREFIX}/prices", json=price)
        again = operator.post(f"{PREFIX}/prices", json=price)
        changed = operator.post(f"{PREFIX}/prices", json={**price, "unit_amount": 2900})
        invalid = operator.post(f"{PREFIX}/prices", json={**price, "unit_amount": "lots"})
    assert created.status_code == 201, created.text
    assert again.json()["id"] == created.json()["id"]
    assert changed.status_code == 409 and "already created" in changed.json()["error"]
    assert invalid.status_code == 400 and "unit_amount" in invalid.json()["error"]
    stripe_price = emulator.client(stripe_account=account.stripe_account_id).v1.prices.retrieve(
        created.json()["id"]
    )
    assert (
        stripe_price.unit_amount,
        stripe_price.currency,
        stripe_price.metadata["app_price_id"],
    ) == (1900, "usd", "price_internal_7")


# -- an account belongs to one project -----------------------------------------------------


def test_disconnect_of_another_projects_account_is_refused_with_400_and_changes_nothing(
    connected_listener, emulator
) -> None:
    authorize(connected_listener, "project_b")
    [account_b] = connected_listener.store.connected_accounts(project_id="project_b")
    with connected_listener.operator() as operator:
        sync = operator.post(
            f"{PREFIX}/sync/catalog",
            params={"project_id": "project_a", "account_id": account_b.stripe_account_id},
        )
        answer = operator.post(
            f"{PREFIX}/disconnect",
            params={"project_id": "project_a", "account_id": account_b.stripe_account_id},
        )
    assert sync.status_code == 400, sync.text  # the rule the sync routes already follow
    assert answer.status_code == 400, answer.text
    assert "belongs to another project" in answer.json()["error"]
    assert connected_listener.store.get_account(account_b.stripe_account_id).is_connected
    assert emulator.store.is_connected(account_b.stripe_account_id)  # not deauthorized at Stripe


def test_connecting_an_account_of_another_project_is_refused_with_a_page_saying_what_to_do(
    connected_listener,
) -> None:
    first, _ = authorize(connected_listener, "project_a")
    assert first.status_code == 200
    [account] = connected_listener.store.connected_accounts()

    again, _ = authorize(connected_listener, "project_b", account=account.stripe_account_id)

    assert again.status_code == 409, again.text
    assert "already connected to project project_a" in again.text
    assert "disconnect" in again.text.lower()
    kept = connected_listener.store.get_account(account.stripe_account_id)
    assert (kept.project_id, kept.status) == ("project_a", "connected")


def test_an_account_disconnected_from_one_project_may_be_connected_to_another(
    connected_listener,
) -> None:
    authorize(connected_listener, "project_a")
    [account] = connected_listener.store.connected_accounts()
    with connected_listener.operator() as operator:
        assert (
            operator.post(
                f"{PREFIX}/disconnect", json={"account_id": account.stripe_account_id}
            ).status_code
            == 200
        )
    moved, _ = authorize(connected_listener, "project_b", account=account.stripe_account_id)
    assert moved.status_code == 200, moved.text
    assert connected_listener.store.get_account(account.stripe_account_id).project_id == "project_b"


def test_reconnecting_an_account_to_its_own_project_still_succeeds(connected_listener) -> None:
    authorize(connected_listener, "project_a")
    [account] = connected_listener.store.connected_accounts()
    again, _ = authorize(connected_listener, "project_a", account=account.stripe_account_id)
    assert again.status_code == 200, again.text
