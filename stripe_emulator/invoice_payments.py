"""Invoice payments, as at API version 2025-03-31.basil and later
(https://docs.stripe.com/changelog/basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices):
Charge and PaymentIntent no longer carry `invoice`; an invoice's payments are `InvoicePayment`
objects (`GET /v1/invoice_payments`, filters `invoice`, `payment[type]`,
`payment[payment_intent]`, `status`; `expand[]=payments` on an invoice).

Each generated invoice (a payment of a recurring price by a customer) has one default invoice
payment of type `payment_intent` naming the payment's intent: `paid` with `amount_paid` when the
payment succeeded, `open` (nothing paid) when it was declined.
"""

from __future__ import annotations

from typing import Any

from stripe_emulator import objects
from stripe_emulator.streams import GenStream


def render(gen: Any, i: int) -> dict:
    pay = gen.payment(i)
    total = sum(line["amount"] for line in gen.invoice_lines(i))
    paid = pay.succeeded
    return {
        "id": gen.gen_id("inpay", "i", i),
        "object": "invoice_payment",
        "amount_paid": total if paid else None,
        "amount_requested": total,
        "created": pay.created,
        "currency": pay.currency,
        "invoice": gen.gen_id("in", "i", i),
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": gen.gen_id("pi", "c", i), "type": "payment_intent"},
        "status": "paid" if paid else "open",
        "status_transitions": {"canceled_at": None, "paid_at": pay.created if paid else None},
    }


class InvoicePaymentStream(GenStream):
    object_type, prefix, kind, rank = "invoice_payment", "inpay", "i", 0

    def created(self, i: int) -> int:
        return self.gen.charge_created(i)

    def exists(self, i: int) -> bool:
        return self.gen.has_invoice(self.gen.payment(i))

    def render(self, i: int) -> dict:
        return render(self.gen, i)

    def field(self, i: int, name: str) -> Any:
        if name == "invoice":
            return self.gen.gen_id("in", "i", i)
        if name == "status":
            return "paid" if self.gen.payment(i).succeeded else "open"
        if name == "payment":
            return {"payment_intent": self.gen.gen_id("pi", "c", i), "type": "payment_intent"}
        return self.render(i).get(name)


def candidates(account: Any, params: dict) -> list[str] | None:
    """`invoice=in_...` names at most one generated invoice payment: no scan."""
    invoice = params.get("invoice")
    if not isinstance(invoice, str):
        return None
    ids: list[str] = []
    found = account.decode(invoice)
    if found is not None and found[0].object_type == "invoice" and account.generator is not None:
        ids.append(account.generator.gen_id("inpay", "i", found[1]))
    return ids + account.overlay_ids_where("invoice_payment", "invoice", invoice)


def invoice_payments_list(account: Any, invoice: dict) -> dict:
    """`invoice.payments` (included with `expand[]=payments`)."""
    from stripe_emulator.store import ListQuery

    ids = candidates(account, {"invoice": invoice["id"]}) or []
    page = account.list("invoice_payment", ListQuery(limit=100, candidates=ids))
    return objects.list_object(
        f"/v1/invoice_payments?invoice={invoice['id']}", page.data, page.has_more
    )
