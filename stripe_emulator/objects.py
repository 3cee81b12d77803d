"""Stripe object shapes, as the stripe SDK 16.1 (API 2026-10-28.endive) returns them.

One builder per object type. Each returns a new top-level dict holding every field Stripe
sends (null where not applicable), so a data pipeline cannot tell these from Stripe's. Nested
constant parts (empty addresses, card checks...) are shared, read-only dicts: the store hands out
deep copies (`Account.get`) to code that edits objects.

Money is in integer minor units of its currency; zero-decimal currencies (JPY...) are not
multiplied by 100.
"""

from __future__ import annotations

from typing import Any

from stripe_emulator.money import ZERO_DECIMAL, minor_unit_factor  # noqa: F401 (re-exported)

API_VERSION = "2026-10-28.endive"

NULL_ADDRESS = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def list_object(url: str, data: list[dict], has_more: bool = False) -> dict:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def deleted(object_type: str, object_id: str) -> dict:
    return {"id": object_id, "object": object_type, "deleted": True}


# -- account ---------------------------------------------------------------------------------


def account(
    id: str,
    created: int,
    country: str = "US",
    default_currency: str = "usd",
    email: str | None = None,
    business_name: str | None = None,
    type: str = "standard",
    metadata: dict | None = None,
) -> dict:
    requirements = {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }
    return {
        "id": id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": "5734",
            "minority_owned_business_designation": None,
            "name": business_name,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"} if type == "standard" else {"type": "application"},
        "country": country,
        "created": created,
        "default_currency": default_currency,
        "details_submitted": True,
        "email": email,
        "external_accounts": list_object(f"/v1/accounts/{id}/external_accounts", []),
        "future_requirements": dict(requirements),
        "metadata": metadata or {},
        "payouts_enabled": True,
        "requirements": dict(requirements),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": business_name, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": (business_name or "EMULATOR").upper()[:22],
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": created, "ip": None, "user_agent": None},
        "type": type,
    }


# -- catalog ---------------------------------------------------------------------------------


def product(
    id: str,
    name: str,
    created: int,
    active: bool = True,
    default_price: str | None = None,
    description: str | None = None,
    metadata: dict | None = None,
    updated: int | None = None,
    type: str = "service",
    unit_label: str | None = None,
    marketing_features: list[dict] | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "product",
        "active": active,
        "created": created,
        "default_price": default_price,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": marketing_features or [],
        "metadata": metadata or {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": type,
        "unit_label": unit_label,
        "updated": updated if updated is not None else created,
        "url": None,
    }
    obj.update(extra)
    return obj


def price(
    id: str,
    product: str,
    currency: str,
    unit_amount: int | None,
    created: int,
    active: bool = True,
    recurring: dict | None = None,
    metadata: dict | None = None,
    nickname: str | None = None,
    lookup_key: str | None = None,
    tax_behavior: str = "unspecified",
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata or {},
        "nickname": nickname,
        "product": product,
        "recurring": recurring_details(**recurring) if recurring else None,
        "tax_behavior": tax_behavior,
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }
    obj.update(extra)
    return obj


def recurring_details(
    interval: str = "month",
    interval_count: int = 1,
    usage_type: str = "licensed",
    trial_period_days: int | None = None,
    meter: str | None = None,
) -> dict:
    return {
        "interval": interval,
        "interval_count": interval_count,
        "meter": meter,
        "trial_period_days": trial_period_days,
        "usage_type": usage_type,
    }


def customer(
    id: str,
    created: int,
    email: str | None = None,
    name: str | None = None,
    metadata: dict | None = None,
    currency: str | None = None,
    invoice_prefix: str | None = None,
    description: str | None = None,
    phone: str | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "business_name": None,
        "created": created,
        "currency": currency,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "individual_name": None,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata or {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    obj.update(extra)
    return obj


# -- payments --------------------------------------------------------------------------------


def card_details(
    brand: str = "visa",
    funding: str = "credit",
    country: str = "US",
    last4: str = "4242",
    exp_month: int = 12,
    exp_year: int = 2030,
    fingerprint: str = "Xt5EWLLDS7FJjR1c",
    amount_authorized: int | None = None,
) -> dict:
    """`payment_method_details.card` of a charge (without per-charge fields)."""
    return {
        "amount_authorized": amount_authorized,
        "authorization_code": None,
        "brand": brand,
        "capture_before": None,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": country,
        "description": None,
        "electronic_commerce_indicator": None,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": fingerprint,
        "funding": funding,
        "iin": None,
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "issuer": None,
        "last4": last4,
        "mandate": None,
        "moto": None,
        "multicapture": {"status": "unavailable"},
        "network": brand,
        "network_token": {"used": False},
        "network_transaction_id": None,
        "overcapture": {"maximum_amount_capturable": amount_authorized, "status": "unavailable"},
        "regulated_status": "unregulated",
        "setup_credential_usage": None,
        "stored_credential_usage": None,
        "three_d_secure": None,
        "transaction_link_id": None,
        "wallet": None,
    }


def billing_details(
    name: str | None = None, email: str | None = None, country: str | None = None
) -> dict:
    address = NULL_ADDRESS if country is None else {**NULL_ADDRESS, "country": country}
    return {"address": address, "email": email, "name": name, "phone": None, "tax_id": None}


OUTCOME_SUCCEEDED = {
    "advice_code": None,
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "approved_by_network",
    "reason": None,
    "risk_level": "normal",
    "risk_score": 32,
    "seller_message": "Payment complete.",
    "type": "authorized",
}
OUTCOME_DECLINED = {
    "advice_code": "try_again_later",
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "declined_by_network",
    "reason": "generic_decline",
    "risk_level": "normal",
    "risk_score": 41,
    "seller_message": "The bank did not return any further details with this decline.",
    "type": "issuer_declined",
}
DECLINE_MESSAGE = "Your card was declined."


def charge(
    id: str,
    amount: int,
    currency: str,
    created: int,
    status: str = "succeeded",
    balance_transaction: str | None = None,
    payment_intent: str | None = None,
    payment_method: str | None = None,
    customer: str | None = None,
    card: dict | None = None,
    billing: dict | None = None,
    metadata: dict | None = None,
    description: str | None = None,
    amount_refunded: int = 0,
    disputed: bool = False,
    receipt_email: str | None = None,
    failure_code: str | None = None,
    failure_message: str | None = None,
    account_tag: str = "",
    **extra: Any,
) -> dict:
    succeeded = status == "succeeded"
    obj = {
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": amount_refunded,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None,
        "balance_transaction": balance_transaction,
        "billing_details": billing or billing_details(),
        "calculated_statement_descriptor": "EMULATOR",
        "captured": succeeded,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": disputed,
        "failure_balance_transaction": None,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata or {},
        "on_behalf_of": None,
        "outcome": OUTCOME_SUCCEEDED if succeeded else OUTCOME_DECLINED,
        "paid": succeeded,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": {"card": card or card_details(), "type": "card"},
        "presentment_details": None,
        "radar_options": {},
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{account_tag}{id[3:]}",
        "refunded": amount_refunded >= amount and amount_refunded > 0,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }
    obj.update(extra)
    return obj


def payment_intent(
    id: str,
    amount: int,
    currency: str,
    created: int,
    status: str = "succeeded",
    latest_charge: str | None = None,
    payment_method: str | None = None,
    customer: str | None = None,
    metadata: dict | None = None,
    description: str | None = None,
    last_payment_error: dict | None = None,
    canceled_at: int | None = None,
    cancellation_reason: str | None = None,
    receipt_email: str | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": canceled_at,
        "cancellation_reason": cancellation_reason,
        "capture_method": "automatic",
        "client_secret": f"{id}_secret_{id[-20:][::-1]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": last_payment_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": ["card"],
        "presentment_details": None,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }
    obj.update(extra)
    return obj


def card_decline_error(charge_id: str, payment_method: dict | None) -> dict:
    """`last_payment_error` of a payment intent whose card was declined."""
    return {
        "advice_code": "try_again_later",
        "charge": charge_id,
        "code": "card_declined",
        "decline_code": "generic_decline",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": DECLINE_MESSAGE,
        "network_advice_code": None,
        "network_decline_code": None,
        # Stripe omits `param` and `payment_method` here when they have no value (the spec
        # does not make them nullable).
        **({"payment_method": payment_method} if payment_method is not None else {}),
        "payment_method_type": "card",
        "type": "card_error",
    }


def payment_method_card(
    id: str, created: int, card: dict, billing: dict, customer: str | None = None
) -> dict:
    return {
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "card": {
            "brand": card["brand"],
            "checks": card["checks"],
            "country": card["country"],
            "display_brand": card["brand"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "generated_from": None,
            "last4": card["last4"],
            "networks": {"available": [card["brand"]], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": created,
        "customer": customer,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def refund(
    id: str,
    amount: int,
    currency: str,
    created: int,
    charge: str | None,
    payment_intent: str | None = None,
    balance_transaction: str | None = None,
    status: str = "succeeded",
    reason: str | None = None,
    metadata: dict | None = None,
    customer: str | None = None,
    payment_method: str | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": charge,
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": metadata or {},
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
    obj.update(extra)
    return obj


EMPTY_EVIDENCE = {
    key: None
    for key in [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ]
}


def dispute(
    id: str,
    amount: int,
    currency: str,
    created: int,
    charge: str,
    payment_intent: str | None,
    status: str,
    reason: str,
    balance_transactions: list[dict],
    card_brand: str = "visa",
    due_by: int | None = None,
    has_evidence: bool = False,
    metadata: dict | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": balance_transactions,
        "charge": charge,
        "created": created,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": {**EMPTY_EVIDENCE, "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": due_by,
            "enhanced_eligibility": {},
            "has_evidence": has_evidence,
            "past_due": False,
            "submission_count": 1 if has_evidence else 0,
            "submission_method": "manual" if has_evidence else None,
        },
        "intended_submission_method": None,
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": metadata or {},
        "network_reason_code": "10.4",
        "payment_intent": payment_intent,
        "payment_method_details": {
            "card": {
                "brand": card_brand,
                "case_type": "chargeback",
                "network": card_brand,
                "network_reason_code": "10.4",
            },
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }
    obj.update(extra)
    return obj


def fee_detail(amount: int, currency: str, description: str = "Stripe processing fees") -> dict:
    return {
        "amount": amount,
        "application": None,
        "currency": currency,
        "description": description,
        "type": "stripe_fee",
    }


def balance_transaction(
    id: str,
    amount: int,
    currency: str,
    created: int,
    available_on: int,
    source: str | None,
    type: str,
    reporting_category: str,
    fee: int = 0,
    fee_details: list[dict] | None = None,
    exchange_rate: float | None = None,
    status: str = "available",
    description: str | None = None,
    **extra: Any,
) -> dict:
    obj = {
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": exchange_rate,
        "fee": fee,
        "fee_details": fee_details or [],
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": status,
        "type": type,
    }
    obj.update(extra)
    return obj


# -- invoices --------------------------------------------------------------------------------


def invoice_line_item(
    id: str,
    invoice: str,
    amount: int,
    currency: str,
    price: str,
    product: str,
    unit_amount: int,
    quantity: int,
    period_start: int,
    period_end: int,
    description: str | None = None,
    metadata: dict | None = None,
    subscription: str | None = None,
    subscription_item: str | None = None,
) -> dict:
    """A line of an invoice; with `subscription`, a subscription item's line (Stripe's
    `parent.subscription_item_details`), else an invoice item's."""
    if subscription is not None:
        parent: dict[str, Any] = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": "ii_" + id[3:],
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "id": id,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice,
        "livemode": False,
        "metadata": metadata or {},
        "parent": parent,
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price, "product": product},
            "type": "price_details",
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": subscription,
        "subtotal": amount,
        "taxes": [],
    }


def invoice(
    id: str,
    customer: str,
    currency: str,
    created: int,
    lines: list[dict],
    status: str = "paid",
    customer_email: str | None = None,
    customer_name: str | None = None,
    number: str | None = None,
    account_country: str = "US",
    account_name: str | None = None,
    paid_at: int | None = None,
    metadata: dict | None = None,
    **extra: Any,
) -> dict:
    total = sum(line["amount"] for line in lines)
    paid = status == "paid"
    obj = {
        "id": id,
        "object": "invoice",
        "account_country": account_country,
        "account_name": account_name,
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": total if paid else 0,
        "amount_remaining": 0 if paid else total,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1 if paid else 0,
        "attempted": paid,
        "auto_advance": False,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "manual",
        "collection_method": "charge_automatically",
        "confirmation_secret": None,
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer,
        "customer_account": None,
        "customer_address": None,
        "customer_email": customer_email,
        "customer_name": customer_name,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": created if status != "draft" else None,
        "ending_balance": 0 if status != "draft" else None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{id}" if status != "draft" else None,
        "invoice_pdf": f"https://pay.stripe.com/invoice/{id}/pdf" if status != "draft" else None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        # Stripe embeds the first 10 lines; the rest are paged from /v1/invoices/{id}/lines.
        "lines": list_object(f"/v1/invoices/{id}/lines", lines[:10], len(lines) > 10),
        "livemode": False,
        "metadata": metadata or {},
        "next_payment_attempt": None,
        "number": number,
        "on_behalf_of": None,
        "parent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": {
            "finalized_at": created if status != "draft" else None,
            "marked_uncollectible_at": None,
            "paid_at": paid_at if paid else None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    }
    obj.update(extra)
    return obj


# -- events and webhooks ---------------------------------------------------------------------


def event(
    id: str,
    type: str,
    created: int,
    data: dict,
    account: str | None = None,
    api_version: str = API_VERSION,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    pending_webhooks: int = 0,
) -> dict:
    obj = {
        "id": id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type,
    }
    if account is not None:
        # Stripe sets `account` (and `context`) only on events of connected accounts.
        obj["account"] = account
        obj["context"] = account
    return obj


def webhook_endpoint(
    id: str,
    url: str,
    enabled_events: list[str],
    created: int,
    secret: str | None = None,
    description: str | None = None,
    status: str = "enabled",
    api_version: str | None = None,
    metadata: dict | None = None,
    application: str | None = None,
) -> dict:
    obj = {
        "id": id,
        "object": "webhook_endpoint",
        "api_version": api_version,
        "application": application,
        "created": created,
        "description": description,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": metadata or {},
        "status": status,
        "url": url,
    }
    if secret is not None:
        # Stripe returns the signing secret only in the create response.
        obj["secret"] = secret
    return obj
