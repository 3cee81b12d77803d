"""A sample of every object the emulator serves, generated and API-made, as raw JSON (dicts),
for the shape checks (SDK classes, OpenAPI spec)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import httpx
import stripe

from stripe_emulator.testing import EmulatorHandle

LISTS = [
    "products",
    "prices",
    "customers",
    "payment_intents",
    "charges",
    "refunds",
    "disputes",
    "balance_transactions",
    "invoices",
    "events",
    "webhook_endpoints",
    "payouts",
    "application_fees",
    "invoice_payments",
]


def _make_changes(emu: EmulatorHandle, account: str | None) -> list[dict[str, Any]]:
    """Exercise every write path once; returns the objects the writes answered with."""
    client = emu.client(stripe_account=account)
    out: list[dict[str, Any]] = []
    product = client.v1.products.create(
        {"name": "Sample", "default_price_data": {"currency": "usd", "unit_amount": 900}}
    )
    out.append(client.v1.products.update(product.id, {"active": False}).to_dict())
    price = client.v1.prices.create(
        {
            "product": product.id,
            "currency": "eur",
            "unit_amount": 1500,
            "recurring": {"interval": "month"},
            "lookup_key": f"sample-{account}",
        }
    )
    out.append(client.v1.prices.update(price.id, {"nickname": "Monthly"}).to_dict())
    customer = client.v1.customers.create({"email": "sample@example.com", "name": "Sample"})
    out.append(client.v1.customers.update(customer.id, {"metadata": {"k": "v"}}).to_dict())
    empty = client.v1.products.create({"name": "Deleted"})
    out.append(client.v1.products.delete(empty.id).to_dict())
    for pm, currency in [
        ("pm_card_visa", "usd"),
        ("pm_card_mx", "mxn"),
        ("pm_card_jp", "jpy"),
        ("pm_card_createDispute", "usd"),
    ]:
        intent = client.v1.payment_intents.create(
            {
                "amount": 5000 if currency != "jpy" else 800,
                "currency": currency,
                "payment_method": pm,
                "confirm": True,
                "customer": customer.id,
            }
        )
        out.append(intent.to_dict())
    # A partial refund of the MXN payment: settled with the charge's exchange rate.
    refund = client.v1.refunds.create({"payment_intent": out[-3]["id"], "amount": 1000})
    out.append(refund.to_dict())
    try:
        client.v1.payment_intents.create(
            {
                "amount": 700,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
            }
        )
    except stripe.CardError as exc:  # the 402's body holds the failed intent
        out.append(exc.error.payment_intent.to_dict())
    # A bank debit of each kind (processing, a pending charge) and a partial capture.
    for method, currency, details in [
        ("us_bank_account", "usd",
         {"routing_number": "110000000", "account_number": "000222222227"}),
        ("sepa_debit", "eur", {"iban": "DE89370400440532013000"}),
    ]:  # fmt: skip
        out.append(
            client.v1.payment_intents.create(
                {
                    "amount": 3000,
                    "currency": currency,
                    "confirm": True,
                    "payment_method_data": {
                        "type": method,
                        method: details,
                        "billing_details": {"name": "Sample", "email": "sample@example.com"},
                    },
                    "mandate_data": {"customer_acceptance": {"type": "offline"}},
                }
            ).to_dict()
        )
    held = client.v1.payment_intents.create(
        {"amount": 4000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         "capture_method": "manual"}
    )  # fmt: skip
    out.append(held.to_dict())
    out.append(client.v1.payment_intents.capture(held.id, {"amount_to_capture": 2500}).to_dict())
    endpoint = client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:9/", "enabled_events": ["*"]}
    )
    out.append(endpoint.to_dict())
    # The createDispute card's dispute opens shortly after; then win one and lose another.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        disputes = client.v1.disputes.list({"payment_intent": intent.id})
        if disputes.data:
            break
        time.sleep(0.05)
    dispute = disputes.data[0]
    won = client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "winning_evidence"}}
    )
    out.append(won.to_dict())
    return out


def collect(emu: EmulatorHandle) -> dict[str, list[dict[str, Any]]]:
    """object type -> sample objects (the first page of every list, for the platform and one
    connected account, after one round of writes in each)."""
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account in (None, emu.connected_account_ids[0]):
        for obj in _make_changes(emu, account):
            # Back to the JSON the emulator sent (the SDK turns *_decimal fields into Decimal).
            obj = json.loads(json.dumps(obj, default=str))
            samples[obj["object"]].append(obj)
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        if account:
            headers["Stripe-Account"] = account
        with httpx.Client(base_url=emu.base_url, headers=headers) as http:
            invoice = None
            for name in LISTS:
                page = http.get(f"/v1/{name}", params={"limit": 100}).json()
                if name == "invoices" and page["data"]:
                    invoice = page["data"][0]
                for obj in page["data"]:
                    samples[obj["object"]].append(obj)
                    if obj["object"] == "event":
                        inner = obj["data"]["object"]
                        samples[inner["object"]].append(inner)
            if invoice is not None:
                for line in http.get(f"/v1/invoices/{invoice['id']}/lines").json()["data"]:
                    samples[line["object"]].append(line)
                expanded = http.get(
                    f"/v1/invoices/{invoice['id']}", params={"expand[]": "payments"}
                ).json()
                samples["invoice_payment"] += expanded["payments"]["data"]
            samples["balance"].append(http.get("/v1/balance").json())
            samples["account"].append(http.get("/v1/account").json())
    return dict(samples)
