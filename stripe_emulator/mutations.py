"""Stripe's write calls, as the SDK sends them (form-encoded), and the events each one writes.

Products (create, update, archive with active=false, delete), prices (create, update; Stripe has
no price delete), customers (create, update, delete), payment intents (create, update, confirm,
cancel, capture), refunds (create, update), disputes (evidence, close).

Test-mode payment methods behave as Stripe documents them:
* `pm_card_visa` (and the other brands): succeeds; a charge and a balance transaction with the
  fee 2.9% + 30 minor units of the settlement currency;
* `pm_card_chargeDeclined` (`..InsufficientFunds`): the charge fails (`card_declined`), no balance
  transaction, the payment intent returns to `requires_payment_method`, and confirm answers
  402 `card_error`, as Stripe does;
* `pm_card_createDispute`: succeeds, then a dispute opens shortly after (`charge.dispute.created`,
  a negative `dispute` balance transaction with Stripe's dispute fee);
* country cards (`pm_card_mx`, `pm_card_jp`, `pm_card_gb`, ...): succeed with the card's country.
A charge in a currency other than the account's default currency settles in the default
currency, with `exchange_rate` on its balance transaction (and its refunds' and disputes').
Bank debits (ACH `us_bank_account`, SEPA `sepa_debit`, through `payment_method_data` and
Stripe's test account numbers) and manual capture (`capture_method=manual`, then
`/capture` with `amount_to_capture`): payment_writes.py.

Disputes close as in test mode: `POST /v1/disputes/{id}` with
`evidence[uncategorized_text]=winning_evidence` wins (a `dispute_reversal` balance transaction
gives back the amount and the fee), `losing_evidence` loses, `POST /v1/disputes/{id}/close`
concedes (lost).

The handlers are plain functions of a `Call`; `register(router, store)` wires them into the app.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from stripe_emulator import objects, payment_writes
from stripe_emulator.app import Request, Response, Router, StripeError, apply_expand, expand_paths
from stripe_emulator.money import (
    DISPUTE_FEE,
    USD_VALUE,
    card_available_on,
    card_fee,
    convert,
    exchange_rate,
    usd_value,
)
from stripe_emulator.oauth import connection_scope, read_only_error
from stripe_emulator.store import Account, ListQuery, Store

# -- errors ------------------------------------------------------------------------------------


def missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: str, param: str | None = None) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


# -- parameters --------------------------------------------------------------------------------


def _bool(params: dict[str, Any], name: str, default: bool | None = None) -> bool | None:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise StripeError(400, f"Invalid boolean: {value}", param=name)


def _int(params: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=name) from None
    return number


def _str(params: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or (required and value == ""):
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise StripeError(400, f"Invalid string: {value!r}", param=name)
    return value


def _check_known(params: dict[str, Any], known: set[str]) -> None:
    for name in params:
        if name not in known and name != "expand":
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update: keys merge; an empty value unsets a key; `metadata=""` clears."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise StripeError(400, "Invalid hash", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


def _list_param(params: dict[str, Any], name: str) -> list[Any] | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, dict):  # a[0]=x&a[1]=y parsed as a dict of indices
        return [value[k] for k in sorted(value, key=lambda k: int(k) if k.isdigit() else 0)]
    if isinstance(value, list):
        return value
    if value == "":
        return []
    return [value]


# -- the call context --------------------------------------------------------------------------


@dataclass
class Call:
    """One API call as the handlers see it."""

    store: Store
    account: Account
    params: dict[str, Any]
    path_params: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    idempotency_key: str | None = None

    def emit(self, event_type: str, obj: dict, previous: dict | None = None) -> dict:
        return self.account.emit_event(
            event_type,
            obj,
            previous_attributes=previous,
            request_id=self.request_id,
            idempotency_key=self.idempotency_key,
        )

    def now(self) -> int:
        return self.store.now()


@dataclass
class MutationSettings:
    dispute_delay: float = 0.3  # seconds between a createDispute charge and its dispute
    dispute_fees: dict[str, int] = field(default_factory=lambda: dict(DISPUTE_FEE))


_SETTINGS: weakref.WeakKeyDictionary[Store, MutationSettings] = weakref.WeakKeyDictionary()


def settings(store: Store) -> MutationSettings:
    found = _SETTINGS.get(store)
    if found is None:
        found = _SETTINGS[store] = MutationSettings()
    return found


def _previous(before: dict, after: dict) -> dict:
    """Stripe's `previous_attributes`: the old values of the top-level fields that changed."""
    return {k: before.get(k) for k in after if k != "id" and before.get(k) != after.get(k)}


# -- test-mode payment methods -----------------------------------------------------------------


@dataclass(frozen=True)
class TestCard:
    brand: str = "visa"
    funding: str = "credit"
    country: str = "US"
    last4: str = "4242"
    decline_code: str | None = None  # declined with this decline code
    dispute: bool = False  # succeeds, then a dispute opens


_COUNTRY_CARDS = {
    "us": ("US", "4242"),
    "gb": ("GB", "0000"),
    "jp": ("JP", "0003"),
    "mx": ("MX", "8001"),
    "br": ("BR", "0002"),
    "ca": ("CA", "0000"),
    "au": ("AU", "0006"),
    "de": ("DE", "0016"),
    "fr": ("FR", "0003"),
    "in": ("IN", "0008"),
    "sg": ("SG", "0003"),
    "nz": ("NZ", "0005"),
    "es": ("ES", "0001"),
    "it": ("IT", "0008"),
    "nl": ("NL", "0009"),
}

TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard(),
    "pm_card_visa_debit": TestCard(funding="debit", last4="5556"),
    "pm_card_mastercard": TestCard(brand="mastercard", last4="4444"),
    "pm_card_amex": TestCard(brand="amex", last4="8431"),
    "pm_card_discover": TestCard(brand="discover", last4="1117"),
    "pm_card_chargeDeclined": TestCard(last4="0002", decline_code="generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        last4="9995", decline_code="insufficient_funds"
    ),
    "pm_card_chargeDeclinedLostCard": TestCard(last4="9987", decline_code="lost_card"),
    "pm_card_createDispute": TestCard(last4="0259", dispute=True),
    **{
        f"pm_card_{code}": TestCard(country=country, last4=last4)
        for code, (country, last4) in _COUNTRY_CARDS.items()
    },
}

DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
}


def _test_card(payment_method: str) -> TestCard:
    card = TEST_CARDS.get(payment_method)
    if card is None:
        raise no_such("PaymentMethod", payment_method, param="payment_method")
    return card


# -- products ----------------------------------------------------------------------------------

PRODUCT_FIELDS = {
    "name",
    "active",
    "description",
    "metadata",
    "unit_label",
    "url",
    "images",
    "statement_descriptor",
    "tax_code",
    "shippable",
    "marketing_features",
}


def _product_fields(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("name", "description", "unit_label", "url", "statement_descriptor", "tax_code"):
        if name in params:
            value = params[name]
            out[name] = None if value == "" and name != "name" else value
    if "active" in params:
        out["active"] = _bool(params, "active")
    if "shippable" in params:
        out["shippable"] = _bool(params, "shippable")
    if "images" in params:
        out["images"] = _list_param(params, "images") or []
    if "marketing_features" in params:
        features = _list_param(params, "marketing_features") or []
        out["marketing_features"] = [
            {"name": f.get("name")} for f in features if isinstance(f, dict)
        ]
    return out


def create_product(call: Call) -> dict:
    params = call.params
    _check_known(params, PRODUCT_FIELDS | {"id", "default_price_data", "type"})
    name = _str(params, "name", required=True)
    product_id = _str(params, "id") or call.store.new_id("prod")
    if call.account.lookup("product", product_id) is not None:
        raise StripeError(
            400, "Product already exists.", code="resource_already_exists", param="id"
        )
    now = call.now()
    product = objects.product(id=product_id, name=name, created=now)
    product.update(_product_fields(params))
    product["metadata"] = merge_metadata({}, params.get("metadata"))
    price = None
    price_data = params.get("default_price_data")
    if isinstance(price_data, dict):
        price = _build_price(call, price_data, product_id, now, param_prefix="default_price_data")
        product["default_price"] = price["id"]
    call.account.put(product)
    call.emit("product.created", product)
    if price is not None:
        call.account.put(price)
        call.emit("price.created", price)
    return product


def _existing(call: Call, object_type: str, object_id: str, kind: str) -> dict:
    obj = call.account.get(object_type, object_id)
    if obj is None or obj.get("deleted"):
        raise no_such(kind, object_id, param="id")
    return obj


def update_product(call: Call) -> dict:
    params = call.params
    _check_known(params, PRODUCT_FIELDS | {"default_price"})
    before = _existing(call, "product", call.path_params["id"], "product")
    after = copy.deepcopy(before)
    fields_ = _product_fields(params)
    if "name" in fields_ and not fields_["name"]:
        raise StripeError(400, "You must provide a non-empty name.", param="name")
    after.update(fields_)
    after["metadata"] = merge_metadata(after.get("metadata") or {}, params.get("metadata"))
    if "default_price" in params:
        price_id = params["default_price"] or None
        if price_id is not None:
            price = call.account.lookup("price", price_id)
            if price is None or price.get("deleted"):
                raise no_such("price", price_id, param="default_price")
            if price.get("product") != before["id"]:
                raise StripeError(
                    400,
                    f"The price `{price_id}` does not belong to product `{before['id']}`.",
                    param="default_price",
                )
        after["default_price"] = price_id
    previous = _previous(before, after)
    if previous:
        after["updated"] = max(call.now(), before.get("updated") or 0)
        previous = _previous(before, after)
        call.account.put(after)
        call.emit("product.updated", after, previous)
    return after


def _has_prices(account: Account, product_id: str) -> bool:
    page = account.list(
        "price",
        ListQuery(
            limit=1,
            predicate=lambda s, i, o: (
                (o if o is not None else s.render(i)).get("product") == product_id
            ),
        ),
    )
    return bool(page.data)


def delete_product(call: Call) -> dict:
    product = _existing(call, "product", call.path_params["id"], "product")
    if _has_prices(call.account, product["id"]):
        raise StripeError(
            400,
            "This product cannot be deleted because it has one or more user-created prices.",
        )
    stub = call.account.delete("product", product["id"])
    call.emit("product.deleted", product)
    return stub


# -- prices ------------------------------------------------------------------------------------

PRICE_CREATE_FIELDS = {
    "currency",
    "product",
    "product_data",
    "unit_amount",
    "unit_amount_decimal",
    "recurring",
    "nickname",
    "lookup_key",
    "transfer_lookup_key",
    "metadata",
    "active",
    "tax_behavior",
    "billing_scheme",
}
PRICE_UPDATE_FIELDS = {
    "active",
    "metadata",
    "nickname",
    "lookup_key",
    "transfer_lookup_key",
    "tax_behavior",
}


def _build_price(
    call: Call, params: dict[str, Any], product_id: str, now: int, param_prefix: str = ""
) -> dict:
    def p(*names: str) -> str:
        path = [param_prefix, *names] if param_prefix else list(names)
        return path[0] + "".join(f"[{n}]" for n in path[1:])

    currency = (params.get("currency") or "").lower()
    if not currency:
        raise missing(p("currency"))
    if currency not in USD_VALUE:
        raise StripeError(400, f"Invalid currency: {currency}.", param=p("currency"))
    unit_amount = params.get("unit_amount")
    if unit_amount in (None, "") and params.get("unit_amount_decimal") not in (None, ""):
        unit_amount = int(float(params["unit_amount_decimal"]))
    if unit_amount in (None, ""):
        raise missing(p("unit_amount"))
    try:
        unit_amount = int(unit_amount)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {unit_amount}", param=p("unit_amount")) from None
    if unit_amount < 0:
        raise StripeError(
            400, "This value must be greater than or equal to 0.", param=p("unit_amount")
        )
    recurring = params.get("recurring")
    recurring_args = None
    if isinstance(recurring, dict):
        interval = recurring.get("interval")
        if interval not in ("day", "week", "month", "year"):
            if not interval:
                raise missing(p("recurring", "interval"))
            raise StripeError(
                400,
                "Invalid recurring[interval]: must be one of day, week, month, or year",
                param=p("recurring", "interval"),
            )
        recurring_args = {
            "interval": interval,
            "interval_count": int(recurring.get("interval_count") or 1),
            "usage_type": recurring.get("usage_type") or "licensed",
        }
    price = objects.price(
        id=call.store.new_id("price"),
        product=product_id,
        currency=currency,
        unit_amount=unit_amount,
        created=now,
        recurring=recurring_args,
        tax_behavior=params.get("tax_behavior") or "unspecified",
    )
    return price


def _claim_lookup_key(call: Call, lookup_key: str | None, transfer: bool, price_id: str) -> None:
    """Stripe's lookup keys are unique among an account's prices; `transfer_lookup_key=true`
    moves the key from the price that holds it."""
    if not lookup_key:
        return
    page = call.account.list(
        "price",
        ListQuery(
            limit=1,
            predicate=lambda s, i, o: (
                (o if o is not None else s.render(i)).get("lookup_key") == lookup_key
            ),
        ),
    )
    for holder in page.data:
        if holder["id"] == price_id:
            continue
        if not transfer:
            raise StripeError(
                400,
                f"A price (`{holder['id']}`) already uses that lookup key.",
                param="lookup_key",
            )
        before = copy.deepcopy(holder)
        after = copy.deepcopy(holder)
        after["lookup_key"] = None
        call.account.put(after)
        call.emit("price.updated", after, _previous(before, after))


def create_price(call: Call) -> dict:
    params = call.params
    _check_known(params, PRICE_CREATE_FIELDS)
    now = call.now()
    product_id = _str(params, "product")
    product_data = params.get("product_data")
    new_product = None
    if product_id:
        product = call.account.lookup("product", product_id)
        if product is None or product.get("deleted"):
            raise no_such("product", product_id, param="product")
    elif isinstance(product_data, dict):
        if not product_data.get("name"):
            raise missing("product_data[name]")
        new_product = objects.product(
            id=product_data.get("id") or call.store.new_id("prod"),
            name=product_data["name"],
            created=now,
            metadata=merge_metadata({}, product_data.get("metadata")),
        )
        product_id = new_product["id"]
    else:
        raise StripeError(
            400,
            "You must specify either `product` or `product_data` when creating a price.",
            param="product",
        )
    price = _build_price(call, params, product_id, now)
    price["active"] = _bool(params, "active", True)
    price["nickname"] = _str(params, "nickname")
    price["metadata"] = merge_metadata({}, params.get("metadata"))
    lookup_key = _str(params, "lookup_key") or None
    _claim_lookup_key(call, lookup_key, bool(_bool(params, "transfer_lookup_key")), price["id"])
    price["lookup_key"] = lookup_key
    if new_product is not None:
        call.account.put(new_product)
        call.emit("product.created", new_product)
    call.account.put(price)
    call.emit("price.created", price)
    return price


def update_price(call: Call) -> dict:
    params = call.params
    _check_known(params, PRICE_UPDATE_FIELDS)
    before = _existing(call, "price", call.path_params["id"], "price")
    after = copy.deepcopy(before)
    if "active" in params:
        after["active"] = _bool(params, "active")
    if "nickname" in params:
        after["nickname"] = params["nickname"] or None
    if "tax_behavior" in params:
        after["tax_behavior"] = params["tax_behavior"]
    if "lookup_key" in params:
        lookup_key = params["lookup_key"] or None
        _claim_lookup_key(call, lookup_key, bool(_bool(params, "transfer_lookup_key")), after["id"])
        after["lookup_key"] = lookup_key
    after["metadata"] = merge_metadata(after.get("metadata") or {}, params.get("metadata"))
    previous = _previous(before, after)
    if previous:
        call.account.put(after)
        call.emit("price.updated", after, previous)
    return after


# -- customers ---------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "address",
    "preferred_locales",
}


def _customer_fields(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("email", "name", "description", "phone"):
        if name in params:
            out[name] = params[name] or None
    if "address" in params:
        address = params["address"]
        out["address"] = {**objects.NULL_ADDRESS, **address} if isinstance(address, dict) else None
    if "preferred_locales" in params:
        out["preferred_locales"] = _list_param(params, "preferred_locales") or []
    return out


def create_customer(call: Call) -> dict:
    _check_known(call.params, CUSTOMER_FIELDS)
    customer = objects.customer(id=call.store.new_id("cus"), created=call.now())
    customer.update(_customer_fields(call.params))
    customer["metadata"] = merge_metadata({}, call.params.get("metadata"))
    customer["invoice_prefix"] = hashlib.sha1(customer["id"].encode()).hexdigest()[:8].upper()
    call.account.put(customer)
    call.emit("customer.created", customer)
    return customer


def update_customer(call: Call) -> dict:
    _check_known(call.params, CUSTOMER_FIELDS)
    before = _existing(call, "customer", call.path_params["id"], "customer")
    after = copy.deepcopy(before)
    after.update(_customer_fields(call.params))
    after["metadata"] = merge_metadata(after.get("metadata") or {}, call.params.get("metadata"))
    previous = _previous(before, after)
    if previous:
        call.account.put(after)
        call.emit("customer.updated", after, previous)
    return after


def delete_customer(call: Call) -> dict:
    customer = _existing(call, "customer", call.path_params["id"], "customer")
    stub = call.account.delete("customer", customer["id"])
    call.emit("customer.deleted", customer)
    return stub


# -- payment intents ---------------------------------------------------------------------------

PI_CREATE_FIELDS = {
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "description",
    "metadata",
    "receipt_email",
    "payment_method_types",
    "automatic_payment_methods",
    "capture_method",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "return_url",
    "off_session",
    "error_on_requires_action",
    "payment_method_data",
    "mandate_data",
    "payment_method_options",
}
PI_UPDATE_FIELDS = {
    "amount",
    "currency",
    "customer",
    "payment_method",
    "description",
    "metadata",
    "receipt_email",
}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation")


def _check_amount(amount: int, currency: str) -> None:
    if amount <= 0:
        raise StripeError(400, "This value must be greater than or equal to 1.", param="amount")
    usd = usd_value(amount, currency)
    if usd < 0.5 - 1e-9:
        raise StripeError(
            400,
            "Amount must be at least $0.50 usd",
            code="amount_too_small",
            param="amount",
        )


def _customer_param(call: Call) -> str | None:
    customer_id = _str(call.params, "customer") or None
    if customer_id is not None:
        found = call.account.lookup("customer", customer_id)
        if found is None or found.get("deleted"):
            raise no_such("customer", customer_id, param="customer")
    return customer_id


def create_payment_intent(call: Call) -> dict:
    params = call.params
    _check_known(params, PI_CREATE_FIELDS)
    amount = _int(params, "amount", required=True)
    currency = (_str(params, "currency", required=True) or "").lower()
    if currency not in USD_VALUE:
        raise StripeError(400, f"Invalid currency: {currency}.", param="currency")
    assert amount is not None
    _check_amount(amount, currency)
    capture_method = params.get("capture_method") or "automatic"
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise StripeError(
            400,
            f"Invalid capture_method: {capture_method}. Use automatic, automatic_async or manual.",
            param="capture_method",
        )
    # Bank debits (ACH, SEPA) by their test account numbers: payment_writes.py.
    bank = payment_writes.bank_debit_params(params, currency)
    if bank is not None and capture_method == "manual":
        raise StripeError(
            400,
            f"capture_method=manual is not supported for {bank.method}; only cards can be "
            "authorized and captured later.",
            param="capture_method",
        )
    payment_method = _str(params, "payment_method") or None
    if payment_method is not None:
        _test_card(payment_method)
    intent = objects.payment_intent(
        id=call.store.new_id("pi"),
        amount=amount,
        currency=currency,
        created=call.now(),
        status="requires_confirmation" if payment_method or bank else "requires_payment_method",
        customer=_customer_param(call),
        metadata=merge_metadata({}, params.get("metadata")),
        description=_str(params, "description"),
        receipt_email=_str(params, "receipt_email"),
    )
    intent["payment_method"] = payment_method
    intent["capture_method"] = capture_method
    if bank is not None:
        intent["payment_method_types"] = [bank.method]
    call.account.put(intent)
    call.emit("payment_intent.created", intent)
    if _bool(params, "confirm", False):
        if bank is not None:
            return payment_writes.confirm_bank_debit(call, intent, bank)
        return _confirm(call, intent, payment_method)
    if bank is not None:
        payment_writes.remember(call.account, intent["id"], bank)
    return intent


def update_payment_intent(call: Call) -> dict:
    params = call.params
    _check_known(params, PI_UPDATE_FIELDS)
    before = _existing(call, "payment_intent", call.path_params["id"], "payment_intent")
    after = copy.deepcopy(before)
    money_fields = {"amount", "currency", "payment_method", "customer"} & set(params)
    if money_fields and before["status"] not in CONFIRMABLE:
        raise StripeError(
            400,
            f"You cannot update this PaymentIntent because it has a status of {before['status']}.",
            code="payment_intent_unexpected_state",
        )
    if "amount" in params:
        after["amount"] = _int(params, "amount")
    if "currency" in params:
        after["currency"] = (params["currency"] or "").lower()
    if "amount" in params or "currency" in params:
        _check_amount(after["amount"], after["currency"])
    if "payment_method" in params:
        pm = params["payment_method"] or None
        if pm is not None:
            _test_card(pm)
        after["payment_method"] = pm
        after["status"] = "requires_confirmation" if pm else "requires_payment_method"
    if "customer" in params:
        after["customer"] = _customer_param(call)
    for name in ("description", "receipt_email"):
        if name in params:
            after[name] = params[name] or None
    after["metadata"] = merge_metadata(after.get("metadata") or {}, params.get("metadata"))
    previous = _previous(before, after)
    if previous:
        call.account.put(after)
        call.emit("payment_intent.updated", after, previous)
    return after


def confirm_payment_intent(call: Call) -> dict:
    _check_known(
        call.params,
        {
            "payment_method",
            "return_url",
            "off_session",
            "error_on_requires_action",
            "receipt_email",
            "payment_method_data",
            "mandate_data",
        },
    )
    intent = _existing(call, "payment_intent", call.path_params["id"], "payment_intent")
    bank = payment_writes.bank_debit_params(call.params, intent["currency"])
    bank = bank or payment_writes.remembered(call.account, intent["id"])
    if bank is not None:
        _check_confirmable(intent)
        return payment_writes.confirm_bank_debit(call, intent, bank)
    payment_method = _str(call.params, "payment_method") or intent.get("payment_method")
    return _confirm(call, intent, payment_method)


def cancel_payment_intent(call: Call) -> dict:
    _check_known(call.params, {"cancellation_reason"})
    before = _existing(call, "payment_intent", call.path_params["id"], "payment_intent")
    if before["status"] in ("succeeded", "canceled"):
        raise StripeError(
            400,
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{before['status']}. Only a PaymentIntent with one of the following statuses may "
            "be canceled: requires_payment_method, requires_capture, requires_confirmation, "
            "requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    after = copy.deepcopy(before)
    after["status"] = "canceled"
    after["canceled_at"] = call.now()
    after["cancellation_reason"] = _str(call.params, "cancellation_reason") or None
    if before["status"] == "requires_capture":
        # The authorization is released: the uncaptured charge counts as refunded.
        after["amount_capturable"] = 0
        charge = call.account.get("charge", before["latest_charge"])
        charge.update(amount_refunded=charge["amount"], refunded=True)
        call.account.put(charge)
        call.emit("charge.refunded", charge, {"amount_refunded": 0, "refunded": False})
    call.account.put(after)
    call.emit("payment_intent.canceled", after)
    return after


def _check_confirmable(intent: dict) -> None:
    if intent["status"] not in CONFIRMABLE:
        raise StripeError(
            400,
            "You cannot confirm this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            "be confirmed: requires_confirmation, requires_payment_method.",
            code="payment_intent_unexpected_state",
        )


def _confirm(call: Call, intent: dict, payment_method: str | None) -> dict:
    _check_confirmable(intent)
    if not payment_method:
        raise StripeError(
            400,
            "You cannot confirm this PaymentIntent because it's missing a payment method. You "
            "can either update the PaymentIntent with a payment method and then confirm it "
            "again, or confirm it again directly with a payment method.",
            code="payment_intent_unexpected_state",
        )
    card = _test_card(payment_method)
    account = call.account
    now = call.now()
    pm_id = call.store.new_id("pm")
    details = objects.card_details(
        brand=card.brand,
        funding=card.funding,
        country=card.country,
        last4=card.last4,
        amount_authorized=None if card.decline_code else intent["amount"],
    )
    billing = objects.billing_details()
    charge_id = call.store.new_id("ch")
    charge = objects.charge(
        id=charge_id,
        amount=intent["amount"],
        currency=intent["currency"],
        created=now,
        status="failed" if card.decline_code else "succeeded",
        payment_intent=intent["id"],
        payment_method=pm_id,
        customer=intent.get("customer"),
        card=details,
        billing=billing,
        metadata=dict(intent.get("metadata") or {}),
        description=intent.get("description"),
        receipt_email=intent.get("receipt_email"),
    )
    intent["payment_method"] = pm_id
    intent["latest_charge"] = charge_id
    if card.decline_code:
        message = DECLINE_MESSAGES.get(card.decline_code, objects.DECLINE_MESSAGE)
        charge["failure_code"] = "card_declined"
        charge["failure_message"] = message
        charge["outcome"] = {**objects.OUTCOME_DECLINED, "reason": card.decline_code}
        pm_obj = objects.payment_method_card(pm_id, now, details, billing, intent.get("customer"))
        error = objects.card_decline_error(charge_id, pm_obj)
        error.update(decline_code=card.decline_code, message=message)
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = error
        intent["payment_method"] = None
        account.put(charge)
        account.put(intent)
        call.emit("charge.failed", charge)
        call.emit("payment_intent.payment_failed", intent)
        raise StripeError(
            402,
            message,
            type="card_error",
            code="card_declined",
            charge=charge_id,
            decline_code=card.decline_code,
            payment_intent=copy.deepcopy(intent),
            payment_method=pm_obj,
        )
    if intent.get("capture_method") == "manual":
        return payment_writes.authorize(call, intent, charge)
    txn = _charge_balance_transaction(call, charge)
    charge["balance_transaction"] = txn["id"]
    intent["status"] = "succeeded"
    intent["amount_received"] = intent["amount"]
    intent["last_payment_error"] = None
    account.put(txn)
    account.put(charge)
    account.put(intent)
    call.emit("charge.succeeded", charge)
    call.emit("payment_intent.succeeded", intent)
    if card.dispute:
        _schedule_dispute(call, charge_id)
    return intent


def _charge_balance_transaction(call: Call, charge: dict) -> dict:
    settlement = call.account.default_currency
    rate = exchange_rate(charge["currency"], settlement)
    settled = convert(charge["amount"], charge["currency"], settlement, rate)
    fee = card_fee(settled, settlement, rate is not None)
    return objects.balance_transaction(
        id=call.store.new_id("txn"),
        amount=settled,
        currency=settlement,
        created=charge["created"],
        available_on=card_available_on(charge["created"]),
        source=charge["id"],
        type="charge",
        reporting_category="charge",
        fee=fee,
        fee_details=[objects.fee_detail(fee, settlement)],
        exchange_rate=rate,
        status="pending",
        description=charge.get("description"),
    )


def _charge_rate(account: Account, charge: dict) -> float | None:
    txn_id = charge.get("balance_transaction")
    txn = account.lookup("balance_transaction", txn_id) if txn_id else None
    if txn is not None:
        return txn.get("exchange_rate")
    return exchange_rate(charge["currency"], account.default_currency)


# -- refunds -----------------------------------------------------------------------------------

REFUND_CREATE_FIELDS = {
    "charge",
    "payment_intent",
    "amount",
    "reason",
    "metadata",
    "instructions_email",
}
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _format_money(amount: int, currency: str) -> str:
    factor = objects.minor_unit_factor(currency)
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}.get(currency, "")
    major = f"{amount / factor:.2f}" if factor == 100 else str(amount)
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


def create_refund(call: Call) -> dict:
    params = call.params
    _check_known(params, REFUND_CREATE_FIELDS)
    account = call.account
    charge_id = _str(params, "charge") or None
    intent_id = _str(params, "payment_intent") or None
    if charge_id is None and intent_id is None:
        raise StripeError(
            400,
            "One of `charge` or `payment_intent` is required to create a refund.",
            code="parameter_missing",
        )
    if intent_id is not None:
        intent = account.lookup("payment_intent", intent_id)
        if intent is None:
            raise no_such("payment_intent", intent_id, param="payment_intent")
        if intent.get("status") != "succeeded" or not intent.get("latest_charge"):
            raise StripeError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if charge_id is not None and charge_id != intent["latest_charge"]:
            raise StripeError(
                400,
                f"The charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                param="charge",
            )
        charge_id = intent["latest_charge"]
    assert charge_id is not None
    charge = account.get("charge", charge_id)
    if charge is None:
        raise no_such("charge", charge_id, param="charge")
    if charge.get("status") != "succeeded":
        raise StripeError(
            400, f"Charge {charge_id} has not succeeded and cannot be refunded.", param="charge"
        )
    if charge.get("disputed"):
        raise StripeError(
            400,
            f"Charge {charge_id} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    remaining = charge["amount"] - charge.get("amount_refunded", 0)
    if remaining <= 0:
        raise StripeError(
            400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
        )
    amount = _int(params, "amount")
    if amount is None:
        amount = remaining
    if amount <= 0:
        raise StripeError(400, "Invalid positive integer", param="amount")
    if amount > remaining:
        currency = charge["currency"]
        raise StripeError(
            400,
            f"Refund amount ({_format_money(amount, currency)}) is greater than unrefunded "
            f"amount on charge ({_format_money(remaining, currency)})",
            param="amount",
        )
    reason = _str(params, "reason") or None
    if reason is not None and reason not in REFUND_REASONS:
        raise StripeError(
            400,
            f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}",
            param="reason",
        )
    now = call.now()
    settlement = account.default_currency
    rate = _charge_rate(account, charge)
    settled = convert(amount, charge["currency"], settlement, rate)
    refund_id = call.store.new_id("re")
    txn = objects.balance_transaction(
        id=call.store.new_id("txn"),
        amount=-settled,
        currency=settlement,
        created=now,
        available_on=now,
        source=refund_id,
        # Card refunds are type refund; other methods' (bank debits) payment_refund.
        type="refund" if charge["payment_method_details"]["type"] == "card" else "payment_refund",
        reporting_category="refund",
        exchange_rate=rate,
        description="REFUND FOR CHARGE"
        + (f" ({charge['description']})" if charge.get("description") else ""),
    )
    refund = objects.refund(
        id=refund_id,
        amount=amount,
        currency=charge["currency"],
        created=now,
        charge=charge_id,
        payment_intent=charge.get("payment_intent"),
        balance_transaction=txn["id"],
        reason=reason,
        metadata=merge_metadata({}, params.get("metadata")),
    )
    charge["amount_refunded"] = charge.get("amount_refunded", 0) + amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    account.put(txn)
    account.put(refund)
    account.put(charge)
    call.emit("refund.created", refund)
    call.emit("charge.refunded", charge)
    return refund


def update_refund(call: Call) -> dict:
    _check_known(call.params, {"metadata"})
    before = _existing(call, "refund", call.path_params["id"], "refund")
    after = copy.deepcopy(before)
    after["metadata"] = merge_metadata(after.get("metadata") or {}, call.params.get("metadata"))
    previous = _previous(before, after)
    if previous:
        call.account.put(after)
        call.emit("refund.updated", after, previous)
        call.emit("charge.refund.updated", after, previous)
    return after


# -- disputes ----------------------------------------------------------------------------------

DISPUTE_OPEN = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")


def _schedule_dispute(call: Call, charge_id: str) -> None:
    # Stripe opens the dispute of a createDispute card shortly after the charge, in a separate
    # step: a pipeline may sync the charge before the dispute exists.
    delay = settings(call.store).dispute_delay
    later = Call(call.store, call.account, {}, request_id=None, idempotency_key=None)
    if delay <= 0:
        open_dispute(later, charge_id)
        return
    timer = threading.Timer(delay, open_dispute, args=(later, charge_id))
    timer.daemon = True
    timer.start()


def open_dispute(call: Call, charge_id: str, reason: str = "fraudulent") -> dict:
    """Open a dispute on a succeeded charge (the createDispute card does this by itself)."""
    account = call.account
    charge = account.get("charge", charge_id)
    if charge is None:
        raise no_such("charge", charge_id, param="charge")
    now = call.now()
    settlement = account.default_currency
    rate = _charge_rate(account, charge)
    settled = convert(charge["amount"], charge["currency"], settlement, rate)
    fee = settings(call.store).dispute_fees.get(settlement, 1500)
    dispute_id = call.store.new_id("dp")
    txn = objects.balance_transaction(
        id=call.store.new_id("txn"),
        amount=-settled,
        currency=settlement,
        created=now,
        available_on=now,
        source=dispute_id,
        type="adjustment",
        reporting_category="dispute",
        fee=fee,
        fee_details=[objects.fee_detail(fee, settlement, "Dispute fee")],
        exchange_rate=rate,
        description=f"Chargeback withdrawal for {charge_id}",
    )
    dispute = objects.dispute(
        id=dispute_id,
        amount=charge["amount"],
        currency=charge["currency"],
        created=now,
        charge=charge_id,
        payment_intent=charge.get("payment_intent"),
        status="needs_response",
        reason=reason,
        balance_transactions=[txn],
        card_brand=(charge.get("payment_method_details") or {})
        .get("card", {})
        .get("brand", "visa"),
        due_by=now + 7 * 86400,
    )
    charge["disputed"] = True
    account.put(txn)
    account.put(dispute)
    account.put(charge)
    call.emit("charge.dispute.created", dispute)
    call.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


EVIDENCE_FIELDS = set(objects.EMPTY_EVIDENCE)


def update_dispute(call: Call) -> dict:
    params = call.params
    _check_known(params, {"evidence", "metadata", "submit"})
    before = _existing(call, "dispute", call.path_params["id"], "dispute")
    if before["status"] not in DISPUTE_OPEN:
        raise StripeError(
            400,
            f"This dispute is already closed ({before['status']}).",
        )
    after = copy.deepcopy(before)
    evidence = params.get("evidence")
    if evidence is not None and not isinstance(evidence, dict):
        raise StripeError(400, "Invalid hash", param="evidence")
    for key, value in (evidence or {}).items():
        if key not in EVIDENCE_FIELDS:
            raise StripeError(
                400, f"Received unknown parameter: evidence[{key}]", param=f"evidence[{key}]"
            )
        after["evidence"][key] = value or None
    after["metadata"] = merge_metadata(after.get("metadata") or {}, params.get("metadata"))
    submit = _bool(params, "submit", True)
    if evidence and submit:
        after["evidence_details"]["has_evidence"] = True
        after["evidence_details"]["submission_count"] += 1
        after["evidence_details"]["submission_method"] = "manual"
        after["status"] = "under_review"
    previous = _previous(before, after)
    if previous:
        call.account.put(after)
        call.emit("charge.dispute.updated", after, previous)
    text = (evidence or {}).get("uncategorized_text") if submit else None
    # Stripe's test-mode evidence: these exact strings decide the dispute at once.
    if text == "winning_evidence":
        return _close_dispute(call, after, "won")
    if text == "losing_evidence":
        return _close_dispute(call, after, "lost")
    return after


def close_dispute(call: Call) -> dict:
    _check_known(call.params, set())
    dispute = _existing(call, "dispute", call.path_params["id"], "dispute")
    if dispute["status"] not in DISPUTE_OPEN:
        raise StripeError(400, f"This dispute is already closed ({dispute['status']}).")
    return _close_dispute(call, dispute, "lost")


def _close_dispute(call: Call, dispute: dict, outcome: str) -> dict:
    account = call.account
    now = call.now()
    dispute = copy.deepcopy(dispute)
    dispute["status"] = outcome
    if outcome == "won":
        # Winning gives back the disputed amount and the dispute fee.
        withdrawal = dispute["balance_transactions"][0]
        txn = objects.balance_transaction(
            id=call.store.new_id("txn"),
            amount=-withdrawal["amount"],
            currency=withdrawal["currency"],
            created=now,
            available_on=now,
            source=dispute["id"],
            type="adjustment",
            reporting_category="dispute_reversal",
            fee=-withdrawal["fee"],
            fee_details=[
                objects.fee_detail(-withdrawal["fee"], withdrawal["currency"], "Dispute fee refund")
            ],
            exchange_rate=withdrawal.get("exchange_rate"),
            description=f"Chargeback reversal for {dispute['charge']}",
        )
        dispute["balance_transactions"] = [*dispute["balance_transactions"], txn]
        account.put(txn)
    account.put(dispute)
    call.emit("charge.dispute.closed", dispute)
    if outcome == "won":
        call.emit("charge.dispute.funds_reinstated", dispute)
    return dispute


# -- idempotency -------------------------------------------------------------------------------


@dataclass
class _Saved:
    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class IdempotencyCache:
    """Stripe's idempotency: the same key with the same request replays the first answer
    (header `Idempotent-Replayed: true`); with different parameters it is a 400
    idempotency_error. Keys are per account, as in Stripe, and kept for 24 hours there;
    here for the process's life, bounded."""

    max_entries: int = 100_000
    _saved: dict[tuple[str, str], _Saved] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def fingerprint(method: str, path: str, params: Any) -> str:
        raw = json.dumps([method, path, params], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()

    def lookup(self, account_id: str, key: str, fingerprint: str) -> _Saved | None:
        with self._lock:
            saved = self._saved.get((account_id, key))
        if saved is None:
            return None
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        return saved

    def save(
        self,
        account_id: str,
        key: str,
        fingerprint: str,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Stripe does not save answers to requests that failed before executing (5xx here is
        # the closest the emulator has), so a retry after a server error runs again.
        if status >= 500:
            return
        with self._lock:
            if len(self._saved) >= self.max_entries:
                self._saved.pop(next(iter(self._saved)))
            self._saved[(account_id, key)] = _Saved(fingerprint, status, body, headers or {})


_IDEMPOTENCY: weakref.WeakKeyDictionary[Store, IdempotencyCache] = weakref.WeakKeyDictionary()


def idempotency_cache(store: Store) -> IdempotencyCache:
    found = _IDEMPOTENCY.get(store)
    if found is None:
        found = _IDEMPOTENCY[store] = IdempotencyCache()
    return found


# -- routes ------------------------------------------------------------------------------------

Handler = Callable[[Call], dict]

ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/v1/products", create_product),
    ("POST", "/v1/products/{id}", update_product),
    ("DELETE", "/v1/products/{id}", delete_product),
    ("POST", "/v1/prices", create_price),
    ("POST", "/v1/prices/{id}", update_price),
    ("POST", "/v1/customers", create_customer),
    ("POST", "/v1/customers/{id}", update_customer),
    ("DELETE", "/v1/customers/{id}", delete_customer),
    ("POST", "/v1/payment_intents", create_payment_intent),
    ("POST", "/v1/payment_intents/{id}", update_payment_intent),
    ("POST", "/v1/payment_intents/{id}/confirm", confirm_payment_intent),
    ("POST", "/v1/payment_intents/{id}/cancel", cancel_payment_intent),
    ("POST", "/v1/payment_intents/{id}/capture", payment_writes.capture),
    ("POST", "/v1/refunds", create_refund),
    ("POST", "/v1/refunds/{id}", update_refund),
    ("POST", "/v1/disputes/{id}", update_dispute),
    ("POST", "/v1/disputes/{id}/close", close_dispute),
]


def api_route(store: Store, handler: Handler) -> Callable[[Request], Response]:
    """A mutation handler as an app route: parameters in, `expand[]` applied to the answer,
    Stripe's idempotency keys honoured (POST only, as in Stripe)."""
    cache = idempotency_cache(store)

    def route(req: Request) -> Response:
        account = req.account
        assert account is not None
        if account.id != store.platform_id and connection_scope(store, account.id) == "read_only":
            # An OAuth connection with scope read_only reads, and writes nothing.
            raise read_only_error(req.api_key or "", account.id)
        key = req.idempotency_key if req.method == "POST" else None
        fingerprint = ""
        if key:
            fingerprint = cache.fingerprint(req.method, req.path, req.params)
            saved = cache.lookup(account.id, key, fingerprint)
            if saved is not None:
                headers = {**saved.headers, "Idempotent-Replayed": "true"}
                return Response(saved.status, saved.body, headers)
        call = Call(
            store=store,
            account=account,
            params=req.params,
            path_params=req.path_params,
            request_id=req.request_id,
            idempotency_key=key,
        )
        headers: dict[str, str] = {}
        try:
            obj = handler(call)
            expand = expand_paths(req.params)
            if expand and not obj.get("deleted"):
                obj = apply_expand(account, obj, expand, in_list=False)
            status, body = 200, orjson.dumps(obj)
        except StripeError as exc:
            status, body, headers = exc.status, orjson.dumps(exc.body(req.request_id)), exc.headers
        if key:
            saved_headers = {**headers, "Original-Request": req.request_id}
            cache.save(account.id, key, fingerprint, status, body, saved_headers)
            headers = {**headers, "Idempotency-Key": key, "Original-Request": req.request_id}
        return Response(status, body, headers)

    return route


def register(router: Router, store: Store) -> None:
    for method, pattern, handler in ROUTES:
        router.add(method, pattern, api_route(store, handler))
