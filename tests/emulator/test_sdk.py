"""The stripe SDK (16.1) lists and retrieves every resource, deserializing typed objects, with the
addresses and environment the handle gives."""

from __future__ import annotations

import httpx
import stripe

RESOURCES = [
    ("products", stripe.Product),
    ("prices", stripe.Price),
    ("customers", stripe.Customer),
    ("payment_intents", stripe.PaymentIntent),
    ("charges", stripe.Charge),
    ("refunds", stripe.Refund),
    ("disputes", stripe.Dispute),
    ("balance_transactions", stripe.BalanceTransaction),
    ("invoices", stripe.Invoice),
    ("events", stripe.Event),
]


def test_sdk_lists_and_retrieves_every_resource_as_typed_objects(emulator):
    client = emulator.client(stripe_account=emulator.connected_account_ids[0])
    for name, cls in RESOURCES:
        service = getattr(client.v1, name)
        page = service.list({"limit": 3})
        assert page.data, name
        first = page.data[0]
        assert isinstance(first, cls), name
        assert service.retrieve(first.id).id == first.id
    invoice = client.v1.invoices.list({"limit": 1}).data[0]
    lines = client.v1.invoices.line_items.list(invoice.id)
    assert isinstance(lines.data[0], stripe.InvoiceLineItem)
    assert lines.data[0].pricing.price_details.price
    assert client.v1.accounts.retrieve_current().id == emulator.connected_account_ids[0]


def test_platform_client_lists_connected_accounts(emulator):
    accounts = emulator.client().v1.accounts.list()
    assert sorted(a.id for a in accounts.data) == sorted(emulator.connected_account_ids)
    assert all(isinstance(a, stripe.Account) for a in accounts.data)


def test_settings_env_and_base_url_fixture_point_at_the_emulator(emulator, emulator_base_url):
    env = emulator.settings_env()
    assert env["STRIPE_API_BASE"] == env["STRIPE_CONNECT_BASE"] == emulator_base_url
    assert env["STRIPE_CLIENT_SECRET"] == emulator.api_key
    assert env["STRIPE_CLIENT_ID"].startswith("ca_")
    response = httpx.get(
        f"{emulator_base_url}/v1/account",
        headers={"Authorization": f"Bearer {env['STRIPE_CLIENT_SECRET']}"},
    )
    assert response.json()["id"] == emulator.platform_account_id


def test_make_emulator_starts_independent_emulators(make_emulator):
    a = make_emulator(seed=1, accounts=0, charges=5)
    b = make_emulator(seed=2, accounts=3, charges=5)
    assert a.base_url != b.base_url
    assert a.platform_account_id != b.platform_account_id
    assert len(b.connected_account_ids) == 3 and a.connected_account_ids == []
    assert len(a.client().v1.charges.list({"limit": 100}).data) == 5
