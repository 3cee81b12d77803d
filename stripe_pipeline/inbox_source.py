"""The webhook fast path: land what the verified inbox events name, without listing anything.

A webhook run (`stripe_webhook_job`) lands an account's pending inbox events here instead of
running the full incremental source (ten list and events-replay passes). For each event:

- the event itself goes to `stripe.events` (immutable, insert-only, like the source's);
- the object it carries (`data.object`) is fetched again by id, `GET /v1/<resource>/<id>`, and
  merged into its table with the source's own projection (`stripe_source.columns.to_arrow`), so
  the rows are exactly what a listing would land. Charges and refunds are fetched with their
  balance transaction expanded, disputes carry theirs, so the money reaches
  `stripe.balance_transactions` in the same load (a payout brings its own), an invoice brings
  its line items.

Why fetch rather than merge the payload: Stripe delivers events at least once and in any order,
and retries an unanswered one for days, so a `charge.succeeded` payload may arrive after the
`charge.refunded` one; merging payloads would let the older snapshot win. The object fetched
now is at least as new as every event already in the inbox, whatever order they came in.
`*.deleted` events are final, so their payload is merged as is (`is_deleted`).

The tables, keys and write dispositions are the source's (`(account_id, id)`, merge for mutable
objects and balance transactions, insert-only for events); the dlt pipeline is a separate one
(`stripe_inbox_<account>`, schema `stripe_inbox`) in the same dataset, so the source's cursors
and resume points are never touched: the nightly run still lists and replays as before and
merging on the key makes the overlap harmless.

A burst too large to fetch object by object (`MAX_FETCHES`) is left to the regular
incremental sync: `plan_inbox(...).too_large` tells the caller to run that instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dlt
import pyarrow as pa
from dlt.extract.source import DltSource

from stripe_pipeline.stripe_source import RESOURCE_NAMES, SyncStats, make_pipeline
from stripe_pipeline.stripe_source import settings as source_settings
from stripe_pipeline.stripe_source.columns import to_arrow
from stripe_pipeline.stripe_source.helpers import (
    StripeAccessError,
    StripeHttp,
    StripeSourceError,
    fetch_all,
)
from stripe_pipeline.token_bucket import TokenBucket

if TYPE_CHECKING:
    from stripe_pipeline.ops_store import WebhookEvent
    from stripe_pipeline.settings import Settings

logger = logging.getLogger(__name__)

SOURCE_NAME = "stripe_inbox"

# Object type of an event's data.object -> the table it lands in (payouts and invoice payments
# included). Other objects (customers, accounts...) land nothing but the event row; the links of
# a paid payout wait for the regular sync (`payout_links`).
OBJECT_TABLES: dict[str, str] = {
    spec.object_type: name
    for name, spec in source_settings.RESOURCES.items()
    if spec.mutable and name != "invoice_line_items"
}
# Retrieve paths (the list path + /<id>) and the expansions that bring the money along.
_RETRIEVE_EXPAND: dict[str, tuple[str, ...]] = {
    "charges": ("balance_transaction",),
    "refunds": ("balance_transaction",),
    "payouts": ("balance_transaction",),
}
_DELETED_TYPES = frozenset(
    t for spec in source_settings.RESOURCES.values() for t in spec.deleted_event_types
)

# Above this many objects to fetch one by one, a regular incremental sync (events replay plus
# listing) costs fewer requests than the fast path.
MAX_FETCHES = 300


@dataclass
class InboxPlan:
    """What one account's pending inbox events ask for."""

    event_ids: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # table -> ids of the objects to fetch again (ordered, unique)
    fetch: dict[str, list[str]] = field(default_factory=dict)
    # table -> id -> the deleted object, as the `*.deleted` event carried it
    deleted: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def fetch_count(self) -> int:
        return sum(len(ids) for ids in self.fetch.values())

    @property
    def too_large(self) -> bool:
        return self.fetch_count > MAX_FETCHES


def plan_inbox(events: Sequence[WebhookEvent]) -> InboxPlan:
    plan = InboxPlan()
    wanted: dict[str, dict[str, None]] = {}
    for event in events:
        payload = event.payload_json()
        plan.event_ids.append(event.id)
        plan.events.append(payload)
        obj = (payload.get("data") or {}).get("object")
        if not isinstance(obj, dict):
            continue
        table = OBJECT_TABLES.get(obj.get("object", ""))
        object_id = obj.get("id")
        if table is None or not isinstance(object_id, str):
            continue
        if event.type in _DELETED_TYPES or obj.get("deleted") is True:
            plan.deleted.setdefault(table, {})[object_id] = obj
        else:
            wanted.setdefault(table, {})[object_id] = None
    for table, ids in wanted.items():
        gone = plan.deleted.get(table, {})
        remaining = [i for i in ids if i not in gone]
        if remaining:
            plan.fetch[table] = remaining
    return plan


def _http(settings: Settings, account_id: str, is_platform: bool, stats: SyncStats) -> StripeHttp:
    return StripeHttp(
        settings.require_secret_key(),
        settings.api_base,
        None if is_platform else account_id,
        TokenBucket(settings.requests_per_second),
        stats,
        account_id,
    )


def _retrieve(http: StripeHttp, table: str, object_id: str) -> dict[str, Any] | None:
    spec = source_settings.RESOURCES[table]
    params = {"expand": list(_RETRIEVE_EXPAND[table])} if table in _RETRIEVE_EXPAND else {}
    try:
        return http.get(f"{spec.path}/{object_id}", params, table)
    except StripeAccessError:
        raise
    except StripeSourceError as exc:
        # Gone at Stripe since the event (a deleted draft invoice, say): nothing current to
        # land; the nightly reconcile lists the resource anyway.
        if "HTTP 404" in str(exc):
            logger.warning("%s %s no longer exists at Stripe; not landed", table, object_id)
            return None
        raise


def _invoice_lines(http: StripeHttp, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    lines = invoice.get("lines")
    items = list(lines.get("data") or []) if isinstance(lines, dict) else []
    if not isinstance(lines, dict) or lines.get("has_more"):
        params = {"starting_after": items[-1]["id"]} if items else {}
        items.extend(
            fetch_all(http, f"/v1/invoices/{invoice['id']}/lines", params, "invoice_line_items")
        )
    for item in items:
        if not item.get("invoice"):
            item["invoice"] = invoice["id"]
    return items


def collect_tables(
    settings: Settings,
    account_id: str,
    is_platform: bool,
    plan: InboxPlan,
    stats: SyncStats,
) -> dict[str, pa.Table]:
    """Fetch what the plan names and project it: table name -> rows to merge."""
    objects: dict[str, dict[str, dict[str, Any]]] = {}
    deleted_flags: dict[str, dict[str, bool]] = {}

    def put(table: str, obj: dict[str, Any], deleted: bool = False) -> None:
        objects.setdefault(table, {})[obj["id"]] = obj
        deleted_flags.setdefault(table, {})[obj["id"]] = deleted

    if plan.fetch:
        http = _http(settings, account_id, is_platform, stats)
        for table, ids in plan.fetch.items():
            for object_id in ids:
                obj = _retrieve(http, table, object_id)
                if obj is None:
                    continue
                put(table, obj, obj.get("deleted") is True)
                txns = [obj.get("balance_transaction")] if table in _RETRIEVE_EXPAND else []
                if table == "disputes":
                    txns = list(obj.get("balance_transactions") or [])
                for txn in txns:
                    if isinstance(txn, dict) and txn.get("id"):
                        put("balance_transactions", txn)
                if table == "invoices":
                    for line in _invoice_lines(http, obj):
                        put("invoice_line_items", line)
    for table, by_id in plan.deleted.items():
        for obj in by_id.values():
            put(table, obj, True)

    tables: dict[str, pa.Table] = {}
    for table, by_id in objects.items():
        rows = list(by_id.values())
        spec = source_settings.RESOURCES[table]
        flags = [deleted_flags[table][o["id"]] for o in rows] if spec.mutable else None
        if table == "invoice_line_items":
            flags = None
        tables[table] = to_arrow(table, rows, account_id, flags)
    if plan.events:
        unique = list({e["id"]: e for e in plan.events if e.get("id")}.values())
        tables["events"] = to_arrow("events", unique, account_id)
    for table, rows in tables.items():
        stats.add(table, rows=rows.num_rows)
    return tables


def inbox_source(tables: dict[str, pa.Table]) -> DltSource:
    """A source with every Stripe resource (so Dagster can map each asset key to one) that
    yields only the tables the inbox filled."""

    def make(name: str) -> Any:
        spec = source_settings.RESOURCES[name]

        def rows() -> Iterator[pa.Table]:
            table = tables.get(name)
            if table is not None and table.num_rows:
                yield table

        return dlt.resource(
            rows,
            name=name,
            table_name=name,
            write_disposition=spec.write_disposition,
            primary_key=spec.primary_key,
            max_table_nesting=0,
        )

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def stripe_inbox() -> list[Any]:
        return [make(name) for name in RESOURCE_NAMES]

    return stripe_inbox()


def make_inbox_pipeline(settings: Settings, account_id: str) -> dlt.Pipeline:
    """Same warehouse, dataset and dlt settings as the source's pipeline of this account, under
    its own name so its (empty) state never mixes with the source's cursors."""
    return make_pipeline(settings, f"inbox_{account_id}")
