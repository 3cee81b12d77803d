"""The emulator's ASGI app: routing, auth, Stripe-Account scoping, list semantics, expand, errors.

`create_app(store)` returns a plain ASGI callable (faults.py wraps it as middleware). Routes
come from a `Router`: this module registers the read API; extension modules listed in
`EXTENSION_MODULES` (mutations, webhooks, oauth), when present, add theirs through
`register(router, store)`.

Handlers take a `Request` and return a `Response` (or a dict, served as JSON 200), and raise
`StripeError` for Stripe's error answers.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import importlib.util
import inspect
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from stripe_emulator import invoice_payments, objects, payouts
from stripe_emulator.store import (
    PREFIX_TYPES,
    Account,
    CursorNotFound,
    ListQuery,
    Store,
    Stream,
    type_of_id,
)

logger = logging.getLogger(__name__)

EXTENSION_MODULES = (
    "stripe_emulator.mutations",
    "stripe_emulator.webhooks",
    "stripe_emulator.oauth",
)

DOCS = "https://stripe.com/docs"
API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")


# -- errors ----------------------------------------------------------------------------------


class StripeError(Exception):
    """An error answered in Stripe's shape: {"error": {type, code, message, param, ...}}."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra

    def body(self, request_id: str) -> dict:
        error: dict[str, Any] = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = (
            f"https://dashboard.stripe.com/test/logs/{request_id}?t={int(time.time())}"
        )
        error["type"] = self.type
        error.update(self.extra)
        return {"error": error}


def no_such(object_type: str, object_id: str, param: str = "id") -> StripeError:
    name = object_type.replace("_", " ")
    return StripeError(404, f"No such {name}: '{object_id}'", code="resource_missing", param=param)


def unknown_parameter(name: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
    )


def mask_key(key: str) -> str:
    """Stripe's redaction: keep the `sk_test_` prefix and the last 4 characters."""
    parts = key.split("_")
    prefix = "_".join(parts[:2]) + "_" if len(parts) > 2 else ""
    if len(key) <= len(prefix) + 4:
        return prefix + "*" * 4
    return prefix + "*" * max(4, len(key) - len(prefix) - 4) + key[-4:]


# -- requests and responses ------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    query: dict[str, Any]  # bracket-parsed query string
    raw_body: bytes
    store: Store
    request_id: str
    path_params: dict[str, str] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)  # bracket-parsed form body
    api_key: str | None = None
    key_account_id: str | None = None  # the account the key belongs to
    account: Account | None = None  # the account the call acts on (Stripe-Account applied)
    stripe_version: str = objects.API_VERSION

    @property
    def params(self) -> dict[str, Any]:
        """Query parameters for GET/DELETE, form parameters otherwise (as Stripe reads them)."""
        return self.form if self.method == "POST" else self.query

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serializable, or bytes served as-is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Request], "Response | dict | Awaitable[Response | dict]"]


@dataclass
class Route:
    method: str
    pattern: str
    handler: Handler
    auth: str  # "secret_key" (API), or "none" (connect.stripe.com, test hooks)
    regex: re.Pattern | None
    is_async: bool


class Router:
    """Method + path routing. `{name}` segments become `request.path_params[name]`."""

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._dynamic: list[Route] = []
        self._paths: set[str] = set()

    def add(self, method: str, pattern: str, handler: Handler, auth: str = "secret_key") -> None:
        is_async = inspect.iscoroutinefunction(handler)
        if "{" not in pattern:
            self._static[(method, pattern)] = Route(method, pattern, handler, auth, None, is_async)
        else:
            regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
            self._dynamic.append(Route(method, pattern, handler, auth, regex, is_async))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        route = self._static.get((method, path))
        if route is not None:
            return route, {}
        for route in self._dynamic:
            if route.method != method:
                continue
            m = route.regex.match(path)  # type: ignore[union-attr]
            if m is not None:
                return route, m.groupdict()
        return None


def parse_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding: `a[b]=1`, `a[]=x`, `a[0][b]=y` into nested dicts and lists."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        if "[" not in raw_key:
            out[raw_key] = value
            continue
        head, _, rest = raw_key.partition("[")
        keys = [head] + rest.rstrip("]").split("][")
        node: Any = out
        for n, key in enumerate(keys):
            last = n == len(keys) - 1
            if key == "":
                # `a[]`: append; the parent was created as a list.
                if last:
                    node.append(value)
                    break
                node.append({})
                node = node[-1]
                continue
            nxt_is_list = not last and keys[n + 1] == ""
            if isinstance(node, list):
                # `a[0][b]` lists arrive as dicts keyed by index; converted below.
                raise ValueError(raw_key)
            if last:
                node[key] = value
            else:
                default: Any = [] if nxt_is_list else {}
                child = node.setdefault(key, default)
                if not isinstance(child, (dict, list)):
                    child = node[key] = default
                node = child
    return _indexed_dicts_to_lists(out)


def _indexed_dicts_to_lists(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _indexed_dicts_to_lists(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_indexed_dicts_to_lists(v) for v in value]
    return value


# -- list parameters -------------------------------------------------------------------------

LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand"}


def parse_limit(params: dict[str, Any]) -> int:
    raw = params.get("limit")
    if raw is None:
        return 10
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise StripeError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param="limit"
        ) from None
    if limit < 1:
        raise StripeError(
            400,
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param="limit",
        )
    if limit > 100:
        raise StripeError(
            400,
            f"This value must be less than or equal to 100 (it currently is '{limit}').",
            code="parameter_invalid_integer",
            param="limit",
        )
    return limit


def parse_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None


def parse_created(value: Any, param: str = "created") -> tuple[int | None, int | None]:
    """`created=123` or `created[gt|gte|lt|lte]=...` as an inclusive (lo, hi) range."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        exact = parse_int(value, param)
        return exact, exact
    lo = hi = None
    for op, raw in value.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise unknown_parameter(f"{param}[{op}]")
        n = parse_int(raw, f"{param}[{op}]")
        if op == "gt":
            lo = n + 1 if lo is None else max(lo, n + 1)
        elif op == "gte":
            lo = n if lo is None else max(lo, n)
        elif op == "lt":
            hi = n - 1 if hi is None else min(hi, n - 1)
        else:
            hi = n if hi is None else min(hi, n)
    return lo, hi


def parse_bool(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise StripeError(
        400, f"Invalid boolean: {value}", code="parameter_invalid_boolean", param=param
    )


def expand_paths(params: dict[str, Any]) -> list[str]:
    raw = params.get("expand")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return raw
    raise StripeError(400, "Invalid array", code="parameter_invalid_array", param="expand")


# -- expansion -------------------------------------------------------------------------------

# object type -> fields Stripe lets you expand on it.
EXPANDABLE: dict[str, frozenset[str]] = {
    "charge": frozenset(
        [
            "application",
            "application_fee",
            "balance_transaction",
            "customer",
            "failure_balance_transaction",
            "on_behalf_of",
            "payment_intent",
            "review",
            "source_transfer",
            "transfer",
        ]
    ),
    "payment_intent": frozenset(
        ["application", "customer", "latest_charge", "on_behalf_of", "payment_method", "review"]
    ),
    "refund": frozenset(
        [
            "balance_transaction",
            "charge",
            "customer",
            "failure_balance_transaction",
            "payment_intent",
            "payment_method",
            "source_transfer_reversal",
            "transfer_reversal",
        ]
    ),
    "dispute": frozenset(["charge", "payment_intent"]),
    "balance_transaction": frozenset(["source"]),
    "price": frozenset(["product"]),
    "product": frozenset(["default_price", "tax_code"]),
    "customer": frozenset(["default_source", "test_clock"]),
    "invoice": frozenset(
        [
            "account_tax_ids",
            "application",
            "customer",
            "default_payment_method",
            "default_source",
            "latest_revision",
            "on_behalf_of",
            "subscription",
            "test_clock",
        ]
    ),
    "line_item": frozenset(["subscription"]),
    "event": frozenset(),
    "webhook_endpoint": frozenset(),
    "account": frozenset(),
    "payment_method": frozenset(["customer"]),
    "payout": frozenset(["balance_transaction", "destination", "failure_balance_transaction"]),
    "application_fee": frozenset(["account", "application", "balance_transaction", "charge"]),
    "invoice_payment": frozenset(["invoice"]),
}


def _charge_refunds(account: Account, charge: dict) -> dict:
    """`charge.refunds`: no longer sent by default, but includable with `expand[]=refunds`."""
    candidates = _related_candidates("refund", {"charge": "charge"})(
        account, {"charge": charge["id"]}
    )
    page = account.list("refund", ListQuery(limit=100, candidates=candidates))
    return objects.list_object(f"/v1/charges/{charge['id']}/refunds", page.data, page.has_more)


def expand_object(account: Account, obj: dict, path: list[str], shown: str) -> dict:
    """A copy of obj with `path` (already split on dots) expanded, or StripeError."""
    name = path[0]
    if name == "refunds" and obj.get("object") == "charge" and len(path) == 1:
        return {**obj, "refunds": _charge_refunds(account, obj)}
    if name == "payments" and obj.get("object") == "invoice" and len(path) == 1:
        return {**obj, "payments": invoice_payments.invoice_payments_list(account, obj)}
    if name not in EXPANDABLE.get(obj.get("object", ""), ()):
        raise StripeError(400, f"This property cannot be expanded ({shown}).")
    value = obj.get(name)
    if isinstance(value, str):
        target = account.lookup_any(value)
        if target is None and type_of_id(value) == "account":
            target = (
                account.store.accounts.get(value, None) and account.store.accounts[value].object
            )
        if target is None:
            return obj
        value = target
    if isinstance(value, dict) and len(path) > 1:
        value = expand_object(account, value, path[1:], shown)
    if value is obj.get(name):
        return obj
    new = dict(obj)
    new[name] = value
    return new


def apply_expand(account: Account, obj: dict, paths: list[str], in_list: bool = False) -> dict:
    """obj with every `expand[]` path applied (a single object: paths do not start "data.")."""
    for raw in paths:
        parts = raw.split(".")
        if len(parts) > 4:
            raise StripeError(400, "You cannot expand more than 4 levels of a property.")
        obj = expand_object(account, obj, parts, raw)
    return obj


def expand_page(account: Account, data: list[dict], paths: list[str]) -> list[dict]:
    item_paths = []
    for raw in paths:
        head, _, rest = raw.partition(".")
        if head != "data" or not rest:
            raise StripeError(400, f"This property cannot be expanded ({raw}).")
        if len(raw.split(".")) > 4:
            raise StripeError(400, "You cannot expand more than 4 levels of a property.")
        item_paths.append(rest.split("."))
    if not item_paths:
        return data
    out = []
    for obj in data:
        for parts, raw in zip(item_paths, paths, strict=True):
            obj = expand_object(account, obj, parts, raw)
        out.append(obj)
    return out


# -- resources -------------------------------------------------------------------------------


@dataclass
class Filter:
    """A list filter: its parameter, the field it compares, and how to read the value."""

    param: str
    field: str
    kind: str = "str"  # str, bool, nested (recurring[interval]), in (lookup_keys[]), range
    fast: bool = False  # the stream's field() answers it without rendering


@dataclass
class Resource:
    path: str  # "charges"
    object_type: str
    filters: list[Filter] = field(default_factory=list)
    extra_params: frozenset[str] = frozenset()  # accepted and handled specially
    candidates: Callable[[Account, dict], list[str] | None] | None = None


def _bt_candidates(account: Account, params: dict) -> list[str] | None:
    source = params.get("source")
    if not source:
        return None
    # A source names its balance transactions: a charge or refund one, a dispute up to two.
    obj = account.lookup_any(source)
    if obj is None:
        return []
    if obj.get("object") == "dispute":
        ids = [bt["id"] for bt in obj.get("balance_transactions", [])]
    else:
        # a charge, refund or payout: its own, and the one that reversed it if it failed
        ids = [
            bt
            for bt in (obj.get("balance_transaction"), obj.get("failure_balance_transaction"))
            if isinstance(bt, str)
        ]
    return ids + account.overlay_ids_where("balance_transaction", "source", source)


def _generated_index(account: Account, object_id: Any, object_type: str) -> int | None:
    if not isinstance(object_id, str):
        return None
    found = account.decode(object_id)
    if found is None or found[0].object_type != object_type:
        return None
    return found[1]


def _related_candidates(
    object_type: str, by: dict[str, str]
) -> Callable[[Account, dict], list[str] | None]:
    """Candidates for filters naming a charge or payment intent (`charges?payment_intent=`,
    `refunds?charge=`...): the generator maps them to indices directly, instead of a scan of
    every generated object; objects written since start-up are scanned."""

    def candidates(account: Account, params: dict) -> list[str] | None:
        gen = account.generator
        for param, target_type in by.items():
            value = params.get(param)
            if not value:
                continue
            ids: list[str] = []
            i = _generated_index(account, value, target_type) if gen is not None else None
            if i is not None:
                if object_type == "charge":
                    ids.append(gen.gen_id("ch", "c", i))
                elif object_type == "refund" and (r := gen.refund_index(i)) is not None:
                    ids.append(gen.gen_id("re", "r", r))
                elif object_type == "dispute" and (d := gen.dispute_index(i)) is not None:
                    ids.append(gen.gen_id("dp", "d", d))
            ids += account.overlay_ids_where(object_type, param, value)
            return ids
        return None

    return candidates


RESOURCES: list[Resource] = [
    Resource(
        "products",
        "product",
        [
            Filter("active", "active", "bool"),
            Filter("shippable", "shippable", "bool"),
            Filter("type", "type"),
            Filter("url", "url"),
        ],
        frozenset({"ids", "created"}),
    ),
    Resource(
        "prices",
        "price",
        [
            Filter("active", "active", "bool"),
            Filter("product", "product"),
            Filter("type", "type"),
            Filter("currency", "currency"),
            Filter("recurring", "recurring", "nested"),
            Filter("lookup_keys", "lookup_key", "in"),
        ],
        frozenset({"created"}),
    ),
    Resource(
        "customers",
        "customer",
        [Filter("email", "email"), Filter("test_clock", "test_clock")],
        frozenset({"created"}),
    ),
    Resource(
        "payment_intents",
        "payment_intent",
        [Filter("customer", "customer", fast=True)],
        frozenset({"created"}),
    ),
    Resource(
        "charges",
        "charge",
        [
            Filter("customer", "customer", fast=True),
            Filter("payment_intent", "payment_intent", fast=True),
            Filter("transfer_group", "transfer_group"),
        ],
        frozenset({"created"}),
        _related_candidates("charge", {"payment_intent": "payment_intent"}),
    ),
    Resource(
        "refunds",
        "refund",
        [
            Filter("charge", "charge", fast=True),
            Filter("payment_intent", "payment_intent", fast=True),
        ],
        frozenset({"created"}),
        _related_candidates("refund", {"charge": "charge", "payment_intent": "payment_intent"}),
    ),
    Resource(
        "disputes",
        "dispute",
        [
            Filter("charge", "charge", fast=True),
            Filter("payment_intent", "payment_intent", fast=True),
        ],
        frozenset({"created"}),
        _related_candidates("dispute", {"charge": "charge", "payment_intent": "payment_intent"}),
    ),
    Resource(
        "balance_transactions",
        "balance_transaction",
        [
            Filter("type", "type", fast=True),
            Filter("currency", "currency"),
        ],
        frozenset({"created", "source", "payout"}),
        _bt_candidates,
    ),
    Resource(
        "invoices",
        "invoice",
        [
            Filter("customer", "customer"),
            Filter("status", "status"),
            Filter("collection_method", "collection_method"),
            Filter("subscription", "subscription"),
            Filter("due_date", "due_date", "range"),
        ],
        frozenset({"created"}),
    ),
    Resource("events", "event", [], frozenset({"created", "type", "types", "delivery_success"})),
    Resource(
        "payment_methods",
        "payment_method",
        [Filter("customer", "customer", fast=True), Filter("type", "type")],
        frozenset(),
    ),
    Resource("webhook_endpoints", "webhook_endpoint", [], frozenset()),
    Resource(
        "payouts",
        "payout",
        [
            Filter("status", "status"),
            Filter("destination", "destination"),
            Filter("arrival_date", "arrival_date", "range"),
        ],
        frozenset({"created"}),
    ),
    Resource(
        "application_fees",
        "application_fee",
        [Filter("charge", "charge", fast=True)],
        frozenset({"created"}),
    ),
    Resource(
        "invoice_payments",
        "invoice_payment",
        [
            Filter("invoice", "invoice", fast=True),
            Filter("status", "status", fast=True),
            Filter("payment", "payment", "nested", fast=True),
        ],
        frozenset({"created"}),
        invoice_payments.candidates,
    ),
]

# `customer` on payment intents: the stream answers it fast too (same generator field).


def _build_query(req: Request, resource: Resource) -> tuple[ListQuery, list[str]]:
    params = req.query
    allowed = LIST_PARAMS | {f.param for f in resource.filters} | resource.extra_params
    for name in params:
        if name not in allowed:
            raise unknown_parameter(name)
    limit = parse_limit(params)
    starting_after = params.get("starting_after") or None
    ending_before = params.get("ending_before") or None
    if starting_after and ending_before:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameter_invalid",
            param="ending_before",
        )
    created_lo, created_hi = parse_created(params.get("created"))
    checks: list[tuple[Filter, Any]] = []
    for f in resource.filters:
        if f.param not in params:
            continue
        raw = params[f.param]
        if f.kind == "bool":
            checks.append((f, parse_bool(raw, f.param)))
        elif f.kind == "nested":
            if not isinstance(raw, dict):
                raise StripeError(400, "Invalid hash", code="parameter_invalid", param=f.param)
            checks.append((f, raw))
        elif f.kind == "in":
            values = raw if isinstance(raw, list) else [raw]
            checks.append((f, set(values)))
        elif f.kind == "range":
            checks.append((f, parse_created(raw, f.param)))
        else:
            if not isinstance(raw, str):
                raise StripeError(400, "Invalid string", code="parameter_invalid", param=f.param)
            checks.append((f, raw))
    event_types = _event_types(params) if resource.object_type == "event" else None
    delivery = None
    if resource.object_type == "event" and "delivery_success" in params:
        delivery = parse_bool(params["delivery_success"], "delivery_success")
    predicate = _make_predicate(checks, event_types, delivery, req.store)
    candidates = None
    if resource.candidates is not None:
        candidates = resource.candidates(req.account, params)  # type: ignore[arg-type]
    if resource.object_type == "balance_transaction" and params.get("payout"):
        # Payout reconciliation: the transactions an automatic payout settled (payouts.py).
        settled = payouts.settled_by(req.account, params["payout"])  # type: ignore[arg-type]
        if settled is None:
            raise no_such("payout", params["payout"], param="payout")
        lo, hi, by_payout = settled
        created_lo = lo if created_lo is None else max(lo, created_lo)
        created_hi = hi if created_hi is None else min(hi, created_hi)
        predicate = _both(predicate, by_payout)
    if resource.object_type == "product" and "ids" in params:
        ids = params["ids"]
        candidates = ids if isinstance(ids, list) else [ids]
    stream_filter = None
    if event_types is not None:
        patterns = event_types

        def stream_filter(stream: Stream) -> bool:
            possible = getattr(stream, "event_types", None)
            return possible is None or any(_type_matches(patterns, t) for t in possible)

    query = ListQuery(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        created_lo=created_lo,
        created_hi=created_hi,
        predicate=predicate,
        candidates=candidates,
        stream_filter=stream_filter,
    )
    return query, expand_paths(params)


def _both(first: Callable | None, second: Callable) -> Callable:
    if first is None:
        return second
    return lambda stream, i, obj: first(stream, i, obj) and second(stream, i, obj)


def _event_types(params: dict) -> list[str] | None:
    if "type" in params and "types" in params:
        raise StripeError(
            400,
            "You may only specify one of these parameters: type, types.",
            code="parameter_invalid",
            param="types",
        )
    if "type" in params:
        return [params["type"]]
    if "types" in params:
        types = params["types"]
        types = types if isinstance(types, list) else [types]
        if len(types) > 20:
            raise StripeError(
                400, "You may pass at most 20 event types.", code="parameter_invalid", param="types"
            )
        return types
    return None


def _type_matches(patterns: list[str], event_type: str | None) -> bool:
    if event_type is None:
        return False
    for p in patterns:
        if p == event_type or (p.endswith("*") and event_type.startswith(p[:-1])):
            return True
    return False


def _make_predicate(
    checks: list[tuple[Filter, Any]],
    event_types: list[str] | None,
    delivery: bool | None,
    store: Store,
) -> Callable[[Stream, int, dict | None], bool] | None:
    if not checks and event_types is None and delivery is None:
        return None

    def predicate(stream: Stream, i: int, overlaid: dict | None) -> bool:
        obj = overlaid
        if event_types is not None:
            etype = obj["type"] if obj is not None else stream.field(i, "type")
            if not _type_matches(event_types, etype):
                return False
        if delivery is not None:
            event_id = obj["id"] if obj is not None else stream.id(i)
            if store.event_delivery.get(event_id) is not delivery:
                return False
        for f, wanted in checks:
            if obj is None and not f.fast:
                obj = stream.render(i)
            value = obj.get(f.field) if obj is not None else stream.field(i, f.field)
            if f.kind == "nested":
                if not isinstance(value, dict):
                    return False
                if any(str(value.get(k)) != str(v) for k, v in wanted.items()):
                    return False
            elif f.kind == "in":
                if value not in wanted:
                    return False
            elif f.kind == "range":
                lo, hi = wanted
                if (
                    value is None
                    or (lo is not None and value < lo)
                    or (hi is not None and value > hi)
                ):
                    return False
            elif value != wanted:
                return False
        return True

    return predicate


# -- handlers --------------------------------------------------------------------------------


def _dumps_list(url: str, data: list[dict], has_more: bool) -> Response:
    return Response(body=objects.list_object(url, data, has_more))


def make_list_handler(resource: Resource) -> Handler:
    url = f"/v1/{resource.path}"

    def handler(req: Request) -> Response:
        account = req.account
        assert account is not None
        query, expand = _build_query(req, resource)
        try:
            page = account.list(resource.object_type, query)
        except CursorNotFound as exc:
            param = "ending_before" if query.ending_before else "starting_after"
            raise no_such(resource.object_type, str(exc), param=param) from None
        data = expand_page(account, page.data, expand) if expand else page.data
        return _dumps_list(url, data, page.has_more)

    return handler


def make_retrieve_handler(resource: Resource) -> Handler:
    def handler(req: Request) -> Response:
        account = req.account
        assert account is not None
        for name in req.query:
            if name != "expand":
                raise unknown_parameter(name)
        object_id = req.path_params["id"]
        obj = account.lookup(resource.object_type, object_id)
        if obj is None:
            raise no_such(resource.object_type, object_id)
        expand = expand_paths(req.query)
        if expand and not obj.get("deleted"):
            obj = apply_expand(account, obj, expand, in_list=False)
        return Response(body=obj)

    return handler


def invoice_lines_handler(req: Request) -> Response:
    account = req.account
    assert account is not None
    invoice_id = req.path_params["id"]
    lines = account.invoice_lines(invoice_id)
    if lines is None:
        raise no_such("invoice", invoice_id)
    params = req.query
    for name in params:
        if name not in LIST_PARAMS:
            raise unknown_parameter(name)
    limit = parse_limit(params)
    starting_after = params.get("starting_after")
    ending_before = params.get("ending_before")
    if starting_after and ending_before:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameter_invalid",
            param="ending_before",
        )
    ids = [line["id"] for line in lines]
    start, stop = 0, len(lines)
    # Invoice lines are listed in invoice order (not newest first), as Stripe does.
    if starting_after:
        if starting_after not in ids:
            raise no_such("line_item", starting_after, param="starting_after")
        start = ids.index(starting_after) + 1
    if ending_before:
        if ending_before not in ids:
            raise no_such("line_item", ending_before, param="ending_before")
        stop = ids.index(ending_before)
        start = max(0, stop - limit)
        data = lines[start:stop]
        has_more = start > 0
    else:
        data = lines[start : start + limit]
        has_more = start + limit < stop
    data = expand_page(account, data, expand_paths(params))
    return _dumps_list(f"/v1/invoices/{invoice_id}/lines", data, has_more)


def account_handler(req: Request) -> Response:
    for name in req.query:
        if name != "expand":
            raise unknown_parameter(name)
    assert req.account is not None
    return Response(body=req.account.object)


def accounts_list_handler(req: Request) -> Response:
    params = req.query
    for name in params:
        if name not in LIST_PARAMS | {"created"}:
            raise unknown_parameter(name)
    limit = parse_limit(params)
    lo, hi = parse_created(params.get("created"))
    store = req.store
    account = req.account
    assert account is not None
    ids = store.connected_ids() if account.id == store.platform_id else []
    objs = [store.accounts[a].object for a in ids]
    objs = [
        o for o in objs if (lo is None or o["created"] >= lo) and (hi is None or o["created"] <= hi)
    ]
    objs.sort(key=lambda o: (o["created"], o["id"]), reverse=True)
    order = [o["id"] for o in objs]
    starting_after, ending_before = params.get("starting_after"), params.get("ending_before")
    if starting_after and ending_before:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameter_invalid",
            param="ending_before",
        )
    if ending_before:
        if ending_before not in order:
            raise no_such("account", ending_before, param="ending_before")
        stop = order.index(ending_before)
        start = max(0, stop - limit)
        return _dumps_list("/v1/accounts", objs[start:stop], start > 0)
    start = 0
    if starting_after:
        if starting_after not in order:
            raise no_such("account", starting_after, param="starting_after")
        start = order.index(starting_after) + 1
    page = objs[start : start + limit]
    return _dumps_list("/v1/accounts", page, start + limit < len(objs))


def account_retrieve_handler(req: Request) -> Response:
    for name in req.query:
        if name != "expand":
            raise unknown_parameter(name)
    store = req.store
    account_id = req.path_params["id"]
    assert req.account is not None
    if account_id == req.account.id or (
        req.account.id == store.platform_id and store.is_connected(account_id)
    ):
        return Response(body=store.accounts[account_id].object)
    raise account_access_error(req.api_key or "", account_id)


def account_access_error(api_key: str, account_id: str) -> StripeError:
    return StripeError(
        403,
        f"The provided key '{mask_key(api_key)}' does not have access to account "
        f"'{account_id}' (or that account does not exist). Application access may have been "
        "revoked.",
        code="account_invalid",
    )


def balance_handler(req: Request) -> Response:
    assert req.account is not None
    with req.store.lock:
        return Response(body=payouts.balance(req.account))


def register_read_api(router: Router) -> None:
    for resource in RESOURCES:
        router.add("GET", f"/v1/{resource.path}", make_list_handler(resource))
        router.add("GET", f"/v1/{resource.path}/{{id}}", make_retrieve_handler(resource))
    router.add("GET", "/v1/invoices/{id}/lines", invoice_lines_handler)
    router.add("GET", "/v1/balance", balance_handler)
    router.add("GET", "/v1/account", account_handler)
    router.add("GET", "/v1/accounts", accounts_list_handler)
    router.add("GET", "/v1/accounts/{id}", account_retrieve_handler)


def register_extensions(router: Router, store: Store, modules: tuple[str, ...]) -> list[str]:
    """Load each extension module that exists and let it add routes; returns their names."""
    loaded = []
    for name in modules:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if register is None:
            logger.warning("%s has no register(router, store): its routes are not served", name)
            continue
        register(router, store)
        loaded.append(name)
    return loaded


# -- the ASGI app ----------------------------------------------------------------------------

MISSING_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def _api_key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization")
    if not auth:
        return None
    scheme, _, value = auth.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def authenticate(req: Request, headers: dict[str, str]) -> None:
    store = req.store
    key = _api_key(headers)
    if key is None:
        raise StripeError(401, MISSING_KEY)
    key_account = store.api_keys.get(key)
    if key_account is None:
        raise StripeError(401, f"Invalid API Key provided: {mask_key(key)}")
    req.api_key = key
    req.key_account_id = key_account
    target = headers.get("stripe-account")
    if target and target != key_account:
        allowed = key_account == store.platform_id and store.is_connected(target)
        if not allowed:
            raise account_access_error(key, target)
        req.account = store.accounts[target]
    else:
        req.account = store.accounts[key_account]


class EmulatorApp:
    """The ASGI callable. Keep it plain: faults.py wraps it as middleware."""

    def __init__(self, store: Store, router: Router, live_rate: float = 0.0) -> None:
        self.store = store
        self.router = router
        self.live_rate = live_rate
        self.extensions: list[str] = []
        self._live_task: asyncio.Task | None = None
        self.on_startup: list[Callable[[], Awaitable[None] | None]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None] | None]] = []

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for hook in self.on_startup:
                    result = hook()
                    if inspect.isawaitable(result):
                        await result
                if self.live_rate > 0:
                    self._live_task = asyncio.create_task(self._live_payments())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._live_task is not None:
                    self._live_task.cancel()
                for hook in self.on_shutdown:
                    result = hook()
                    if inspect.isawaitable(result):
                        await result
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _live_payments(self) -> None:
        from stripe_emulator.generator import LivePayments

        writers = [LivePayments(self.store.platform)] + [
            LivePayments(self.store.accounts[a]) for a in self.store.connected_ids()
        ]
        interval = 1.0 / self.live_rate
        n = 0
        while True:
            await asyncio.sleep(interval)
            writer = writers[n % len(writers)]
            n += 1
            with self.store.lock:
                writer.write_one()

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        request_id = "req_" + secrets.token_urlsafe(10).replace("-", "a").replace("_", "b")[:14]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        path = scope["path"]
        body = b""
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            more = True
            chunks = []
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            body = b"".join(chunks)
        version = headers.get("stripe-version") or self.store.api_version
        try:
            # Time-driven work (a bank's answer, a payout) happens before the request sees state.
            self.store.run_due()
            response = await self._dispatch(method, path, scope, headers, body, request_id, version)
        except StripeError as exc:
            response = Response(exc.status, exc.body(request_id), dict(exc.headers))
        except Exception:
            # An emulator bug: answer as Stripe answers its own failures, and say where it was.
            logger.exception("emulator error on %s %s (%s)", method, path, request_id)
            error = StripeError(500, "An unknown error occurred.", type="api_error")
            response = Response(500, error.body(request_id))
        await self._send(send, response, request_id, version)

    async def _dispatch(
        self,
        method: str,
        path: str,
        scope: dict,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        version: str,
    ) -> Response:
        matched = self.router.match(method, path)
        if matched is None:
            raise StripeError(
                404,
                f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/.",
            )
        route, path_params = matched
        query_string = scope.get("query_string", b"").decode("latin-1")
        try:
            query = parse_params(parse_qsl(query_string, keep_blank_values=True))
            form: dict[str, Any] = {}
            content_type = headers.get("content-type", "")
            if body and "application/x-www-form-urlencoded" in content_type:
                form = parse_params(parse_qsl(body.decode(), keep_blank_values=True))
        except ValueError:
            raise StripeError(400, "Invalid request: could not parse the parameters.") from None
        req = Request(
            method=method,
            path=path,
            headers=headers,
            query=query,
            raw_body=body,
            store=self.store,
            request_id=request_id,
            path_params=path_params,
            form=form,
            stripe_version=version,
        )
        if route.auth == "secret_key":
            authenticate(req, headers)
            if not API_VERSION_RE.match(version):
                raise StripeError(400, f"Invalid Stripe API version: {version}")
        result = route.handler(req)
        if route.is_async or inspect.isawaitable(result):
            result = await result  # type: ignore[misc]
        if isinstance(result, Response):
            return result
        return Response(body=result)

    @staticmethod
    async def _send(send: Callable, response: Response, request_id: str, version: str) -> None:
        body = response.body
        if not isinstance(body, (bytes, bytearray)):
            body = orjson.dumps(body)
        headers = [
            (b"content-type", response.content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"request-id", request_id.encode()),
            (b"stripe-version", version.encode("latin-1")),
            (b"access-control-allow-origin", b"*"),
        ]
        for name, value in response.headers.items():
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(
    store: Store,
    live_rate: float = 0.0,
    extensions: tuple[str, ...] = EXTENSION_MODULES,
) -> EmulatorApp:
    """The emulator as a plain ASGI app over `store`."""
    router = Router()
    register_read_api(router)
    app = EmulatorApp(store, router, live_rate=live_rate)
    store.app = app  # extensions may add lifespan hooks (app.on_startup / on_shutdown)
    app.extensions = register_extensions(router, store, extensions)
    return app


__all__ = [
    "PREFIX_TYPES",
    "EmulatorApp",
    "Request",
    "Response",
    "Route",
    "Router",
    "StripeError",
    "create_app",
    "no_such",
    "parse_params",
    "unknown_parameter",
]
