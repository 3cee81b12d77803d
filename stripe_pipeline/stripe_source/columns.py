"""The landed tables' columns (docs/architecture.md, dataset `stripe`) and the projection of
Stripe objects onto them as Arrow tables.

Projection is an allow-list: a column exists here or it does not land. A field Stripe adds
later is ignored, so it never breaks a load, and card data cannot slip through (the payment
method goes through `stripe_pipeline.card_data`). Work is column-wise over a batch of objects:
per-row Python is what limits throughput, so each column is one list comprehension.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from stripe_pipeline.card_data import summarize_payment_method

Objects = Sequence[dict[str, Any]]
Extract = Callable[[Objects, dict[str, Any]], list[Any]]

STRING = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
FLOAT = pa.float64()


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    extract: Extract

    @property
    def is_json(self) -> bool:
        """Its strings are JSON documents (dbt's sources declare it `json`)."""
        return getattr(self.extract, "json_text", False)


def _json_text(extract: Extract) -> Extract:
    # Marks an extractor that serializes JSON: the column lands as text, and the dbt sources
    # generated from this module (landed_schema.py) declare it `json`.
    extract.json_text = True  # type: ignore[attr-defined]
    return extract


def _key(name: str) -> Extract:
    return lambda objs, _ctx: [o.get(name) for o in objs]


def _ref_id(value: Any) -> Any:
    # Expandable fields hold an id, or the expanded object when `expand[]` asked for it.
    if isinstance(value, dict):
        return value.get("id")
    return value


def _ref(name: str) -> Extract:
    return lambda objs, _ctx: [_ref_id(o.get(name)) for o in objs]


def _nested(*path: str) -> Extract:
    def extract(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
        out = []
        for o in objs:
            value: Any = o
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            out.append(value)
        return out

    return extract


def _nested_ref(*path: str) -> Extract:
    nested = _nested(*path)
    return lambda objs, ctx: [_ref_id(v) for v in nested(objs, ctx)]


def _context(name: str) -> Extract:
    # A value the caller knows for the whole batch (the payout whose transactions these are).
    return lambda objs, ctx: [ctx.get(name)] * len(objs)


def _json(name: str) -> Extract:
    return _json_text(
        lambda objs, _ctx: [
            None if (v := o.get(name)) is None else orjson.dumps(v).decode() for o in objs
        ]
    )


@_json_text
def _metadata(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
    return [orjson.dumps(o.get("metadata") or {}).decode() for o in objs]


def _account(objs: Objects, ctx: dict[str, Any]) -> list[Any]:
    return [ctx["account_id"]] * len(objs)


def _is_deleted(objs: Objects, ctx: dict[str, Any]) -> list[Any]:
    forced = ctx.get("is_deleted")
    if forced is not None:
        return forced if isinstance(forced, list) else [bool(forced)] * len(objs)
    return [o.get("deleted") is True for o in objs]


def _payment_method(field: str) -> Extract:
    def extract(objs: Objects, ctx: dict[str, Any]) -> list[Any]:
        summaries = ctx.get("_pm")
        if summaries is None:
            summaries = ctx["_pm"] = [
                summarize_payment_method(o.get("payment_method_details")) for o in objs
            ]
        return [getattr(s, field) for s in summaries]

    return extract


@_json_text
def _dispute_balance_transaction_ids(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
    out = []
    for o in objs:
        items = o.get("balance_transactions") or []
        out.append(orjson.dumps([_ref_id(i) for i in items]).decode())
    return out


def _line_price(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
    # API versions since 2025-03-31 moved the price under pricing.price_details; older ones
    # carried a `price` object.
    out = []
    for o in objs:
        details = (o.get("pricing") or {}).get("price_details") or {}
        value = details.get("price") or _ref_id(o.get("price"))
        out.append(_ref_id(value))
    return out


def _line_product(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
    out = []
    for o in objs:
        details = (o.get("pricing") or {}).get("price_details") or {}
        value = details.get("product")
        if value is None and isinstance(o.get("price"), dict):
            value = o["price"].get("product")
        out.append(_ref_id(value))
    return out


def _event_object(field: str) -> Extract:
    # No `data` (a thin v2 event), or a `data.object` that is not an object: null, not an error.
    def extract(objs: Objects, _ctx: dict[str, Any]) -> list[Any]:
        out = []
        for o in objs:
            data = o.get("data")
            obj = data.get("object") if isinstance(data, dict) else None
            out.append(obj.get(field) if isinstance(obj, dict) else None)
        return out

    return extract


def _cols(*specs: tuple[str, pa.DataType, Extract | None]) -> tuple[Column, ...]:
    return tuple(Column(n, t, e if e is not None else _key(n)) for n, t, e in specs)


ID = ("id", STRING, None)
ACCOUNT = ("account_id", STRING, _account)
METADATA = ("metadata", STRING, _metadata)
CREATED = ("created", INT, None)
LIVEMODE = ("livemode", BOOL, None)
IS_DELETED = ("is_deleted", BOOL, _is_deleted)

TABLES: dict[str, tuple[Column, ...]] = {
    "products": _cols(
        ID, ACCOUNT, ("name", STRING, None), ("description", STRING, None),
        ("active", BOOL, None), ("default_price", STRING, _ref("default_price")),
        ("type", STRING, None), ("unit_label", STRING, None), METADATA, CREATED,
        ("updated", INT, None), LIVEMODE, IS_DELETED,
    ),
    "prices": _cols(
        ID, ACCOUNT, ("product", STRING, _ref("product")), ("active", BOOL, None),
        ("currency", STRING, None), ("unit_amount", INT, None), ("type", STRING, None),
        ("recurring_interval", STRING, _nested("recurring", "interval")),
        ("recurring_interval_count", INT, _nested("recurring", "interval_count")),
        ("lookup_key", STRING, None), ("nickname", STRING, None), METADATA, CREATED,
        LIVEMODE, IS_DELETED,
    ),
    "payment_intents": _cols(
        ID, ACCOUNT, ("amount", INT, None), ("amount_received", INT, None),
        ("currency", STRING, None), ("status", STRING, None),
        ("customer", STRING, _ref("customer")), ("latest_charge", STRING, _ref("latest_charge")),
        ("description", STRING, None), ("cancellation_reason", STRING, None),
        ("last_payment_error_code", STRING, _nested("last_payment_error", "code")),
        METADATA, CREATED, ("canceled_at", INT, None), LIVEMODE, IS_DELETED,
    ),
    "charges": _cols(
        ID, ACCOUNT, ("payment_intent", STRING, _ref("payment_intent")),
        ("invoice", STRING, _ref("invoice")),
        ("amount", INT, None), ("amount_captured", INT, None), ("amount_refunded", INT, None),
        ("currency", STRING, None), ("status", STRING, None), ("paid", BOOL, None),
        ("captured", BOOL, None), ("refunded", BOOL, None), ("disputed", BOOL, None),
        ("balance_transaction", STRING, _ref("balance_transaction")),
        ("failure_code", STRING, None), ("failure_message", STRING, None),
        ("customer", STRING, _ref("customer")), ("description", STRING, None),
        ("payment_method_type", STRING, _payment_method("type")),
        ("card_brand", STRING, _payment_method("card_brand")),
        ("card_funding", STRING, _payment_method("card_funding")),
        ("card_country", STRING, _payment_method("card_country")),
        ("outcome_type", STRING, _nested("outcome", "type")),
        METADATA, CREATED, LIVEMODE, IS_DELETED,
    ),
    "refunds": _cols(
        ID, ACCOUNT, ("charge", STRING, _ref("charge")),
        ("payment_intent", STRING, _ref("payment_intent")), ("amount", INT, None),
        ("currency", STRING, None), ("status", STRING, None), ("reason", STRING, None),
        ("balance_transaction", STRING, _ref("balance_transaction")), METADATA, CREATED,
        IS_DELETED,
    ),
    "disputes": _cols(
        ID, ACCOUNT, ("charge", STRING, _ref("charge")),
        ("payment_intent", STRING, _ref("payment_intent")), ("amount", INT, None),
        ("currency", STRING, None), ("status", STRING, None), ("reason", STRING, None),
        ("balance_transaction_ids", STRING, _dispute_balance_transaction_ids), METADATA,
        CREATED, IS_DELETED,
    ),
    "balance_transactions": _cols(
        ID, ACCOUNT, ("amount", INT, None), ("fee", INT, None), ("net", INT, None),
        ("currency", STRING, None), ("exchange_rate", FLOAT, None),
        ("reporting_category", STRING, None), ("type", STRING, None),
        ("source", STRING, _ref("source")), ("status", STRING, None),
        ("available_on", INT, None), ("description", STRING, None),
        ("fee_details", STRING, _json("fee_details")), CREATED,
    ),
    "payouts": _cols(
        ID, ACCOUNT, ("amount", INT, None), ("currency", STRING, None), ("status", STRING, None),
        ("arrival_date", INT, None), ("automatic", BOOL, None), ("method", STRING, None),
        ("type", STRING, None), ("source_type", STRING, None),
        ("balance_transaction", STRING, _ref("balance_transaction")),
        ("failure_balance_transaction", STRING, _ref("failure_balance_transaction")),
        ("failure_code", STRING, None), ("reconciliation_status", STRING, None),
        ("description", STRING, None), METADATA, CREATED, LIVEMODE, IS_DELETED,
    ),
    # The balance transactions an automatic payout settled (GET /v1/balance_transactions?payout=),
    # its own `payout` transaction included, as Stripe lists them.
    "payout_balance_transactions": _cols(
        ACCOUNT, ("payout_id", STRING, _context("payout_id")),
        ("balance_transaction_id", STRING, _key("id")),
    ),
    "invoices": _cols(
        ID, ACCOUNT, ("customer", STRING, _ref("customer")), ("status", STRING, None),
        ("currency", STRING, None), ("total", INT, None), ("amount_paid", INT, None),
        METADATA, CREATED, IS_DELETED,
    ),
    # At API versions since 2025-03-31 a charge or payment intent no longer names its invoice:
    # the invoice's payments do.
    "invoice_payments": _cols(
        ID, ACCOUNT, ("invoice", STRING, _ref("invoice")), ("amount_paid", INT, None),
        ("amount_requested", INT, None), ("currency", STRING, None), ("status", STRING, None),
        ("is_default", BOOL, None), ("payment_type", STRING, _nested("payment", "type")),
        ("payment_intent", STRING, _nested_ref("payment", "payment_intent")),
        ("charge", STRING, _nested_ref("payment", "charge")),
        ("paid_at", INT, _nested("status_transitions", "paid_at")), CREATED, LIVEMODE,
        IS_DELETED,
    ),
    "invoice_line_items": _cols(
        ID, ACCOUNT, ("invoice", STRING, _ref("invoice")), ("amount", INT, None),
        ("currency", STRING, None), ("quantity", INT, None), ("price_id", STRING, _line_price),
        ("product_id", STRING, _line_product), METADATA,
    ),
    "events": _cols(
        ID, ACCOUNT, ("type", STRING, None), ("object_type", STRING, _event_object("object")),
        ("object_id", STRING, _event_object("id")), ("api_version", STRING, None), CREATED,
        LIVEMODE,
    ),
}  # fmt: skip


# The merge keys are never null; saying so in the Arrow schema matches dlt's primary-key hints.
_NOT_NULL = frozenset({"id", "account_id", "payout_id", "balance_transaction_id"})


@functools.cache
def arrow_schema(table: str) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, c.type, nullable=c.name not in _NOT_NULL) for c in TABLES[table]]
    )


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _coerce(values: list[Any], type_: pa.DataType) -> list[Any]:
    # The slow path, only when a value has an unexpected type (e.g. Stripe turned a string into
    # an object): keep what converts, null what does not, never fail the load.
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
        elif type_ == STRING:
            out.append(v if isinstance(v, str) else orjson.dumps(v).decode())
        elif type_ == BOOL:
            out.append(v if isinstance(v, bool) else None)
        elif type_ == INT:
            ok = isinstance(v, int) and not isinstance(v, bool) and _INT64_MIN <= v <= _INT64_MAX
            out.append(v if ok else None)
        elif type_ == FLOAT:
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(None)
        else:
            out.append(None)
    return out


def to_arrow(
    table: str,
    objects: Objects,
    account_id: str,
    is_deleted: bool | list[bool] | None = None,
    **context: Any,
) -> pa.Table:
    """Project `objects` onto `table`'s columns; `is_deleted` overrides the objects' own flag;
    `context` holds batch-wide values some columns read (`payout_id`)."""
    ctx: dict[str, Any] = {**context, "account_id": account_id, "is_deleted": is_deleted}
    arrays = []
    for column in TABLES[table]:
        values = column.extract(objects, ctx)
        try:
            arrays.append(pa.array(values, type=column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays.append(pa.array(_coerce(values, column.type), type=column.type))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))
