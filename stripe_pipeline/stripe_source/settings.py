"""Constants of the Stripe source: endpoints, event types, API version, column allow-lists.

Nothing here reads the environment; runtime configuration comes from
`stripe_pipeline.settings.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from stripe_pipeline.settings import STRIPE_API_VERSION

API_VERSION = STRIPE_API_VERSION
DATASET_NAME = "stripe"
PAGE_LIMIT = 100

# Stripe keeps events for 30 days. A cursor older than this (with a day of margin for clocks and
# long runs) cannot be replayed completely, so the resource is listed again instead.
EVENT_RETENTION_SECONDS = 29 * 24 * 3600

# Objects created in the second a listing starts may appear after the request: the next run lists
# again from that second and merging on id removes the overlap.
BOUNDARY_OVERLAP_SECONDS = 1

# Threads fetching pages of one resource. The token bucket, not the thread count, bounds the
# request rate; the threads only hide latency (25-100 req/s at 20-100 ms each).
FETCH_THREADS = 6
# Parsed pages waiting for the extract loop; bounded so memory stays flat however large the backfill.
QUEUE_PAGES = 64
# Rows per yielded Arrow table: fewer, larger tables keep dlt's per-item overhead small.
ROWS_PER_TABLE = 5000
# A slice is split for an idle thread only while it still holds at least this many pages.
MIN_PAGES_TO_SPLIT = 4

# Retry policy (the SDK's own retries are off, so every retry is counted here).
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 80


@dataclass(frozen=True)
class ResourceSpec:
    """How one Stripe list endpoint lands as one table."""

    name: str
    path: str
    mutable: bool
    # The `object` of the items this resource lands (events' data.object is checked against it).
    object_type: str = ""
    # Event types whose data.object is this resource's object (replayed to keep rows current).
    event_types: tuple[str, ...] = ()
    deleted_event_types: tuple[str, ...] = ()
    # `expand[]` paths for list requests. Charges and refunds do not expand their
    # `balance_transaction`: only its id lands (in their own `balance_transaction` column), and
    # the balance transactions themselves land from /v1/balance_transactions, which lists every
    # one of them (charges', refunds', disputes', payouts'...). Expanding would fetch each one
    # twice: ~18% more bytes per charge page, and the emulator's (or Stripe's) time to join them.
    expand: tuple[str, ...] = ()
    # Events about another object that change this one without an event of its own (a dispute
    # flips its charge's `disputed`): the object named by `refetch_field` is retrieved again.
    refetch_event_types: tuple[str, ...] = ()
    refetch_field: str = ""
    # Immutable in Stripe's sense (no events) but not final: balance transactions move from
    # `pending` to `available`, so each run lists again from the oldest one still pending and
    # merges on the key (bounded work: only that window is listed twice).
    refresh_pending: bool = False
    primary_key: tuple[str, ...] = ("account_id", "id")

    @property
    def write_disposition(self) -> dict[str, str]:
        if self.mutable or self.refresh_pending:
            return {"disposition": "merge", "strategy": "delete-insert"}
        # "Append, deduplicated on the key": a plain append would duplicate the boundary second
        # that the next run lists again, and any load job dlt retries after a kill -9.
        return {"disposition": "merge", "strategy": "insert-only"}


RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec(
            "products",
            "/v1/products",
            mutable=True,
            object_type="product",
            event_types=("product.created", "product.updated", "product.deleted"),
            deleted_event_types=("product.deleted",),
        ),
        ResourceSpec(
            "prices",
            "/v1/prices",
            mutable=True,
            object_type="price",
            event_types=("price.created", "price.updated", "price.deleted"),
            deleted_event_types=("price.deleted",),
        ),
        ResourceSpec(
            "payment_intents",
            "/v1/payment_intents",
            mutable=True,
            object_type="payment_intent",
            event_types=(
                "payment_intent.created",
                "payment_intent.updated",
                "payment_intent.succeeded",
                "payment_intent.payment_failed",
                "payment_intent.canceled",
                "payment_intent.processing",
                "payment_intent.requires_action",
                "payment_intent.amount_capturable_updated",
                "payment_intent.partially_funded",
            ),
        ),
        ResourceSpec(
            "charges",
            "/v1/charges",
            mutable=True,
            object_type="charge",
            event_types=(
                "charge.succeeded",
                "charge.failed",
                "charge.pending",
                "charge.captured",
                "charge.expired",
                "charge.refunded",
                "charge.updated",
            ),
            refetch_event_types=(
                "charge.dispute.created",
                "charge.dispute.closed",
                "charge.dispute.funds_withdrawn",
                "charge.dispute.funds_reinstated",
            ),
            refetch_field="charge",
        ),
        ResourceSpec(
            "refunds",
            "/v1/refunds",
            mutable=True,
            object_type="refund",
            event_types=(
                "refund.created",
                "refund.updated",
                "refund.failed",
                "charge.refund.updated",
            ),
        ),
        ResourceSpec(
            "disputes",
            "/v1/disputes",
            mutable=True,
            object_type="dispute",
            event_types=(
                "charge.dispute.created",
                "charge.dispute.updated",
                "charge.dispute.closed",
                "charge.dispute.funds_withdrawn",
                "charge.dispute.funds_reinstated",
            ),
        ),
        ResourceSpec(
            "balance_transactions",
            "/v1/balance_transactions",
            mutable=False,
            object_type="balance_transaction",
            refresh_pending=True,
        ),
        ResourceSpec(
            "payouts",
            "/v1/payouts",
            mutable=True,
            object_type="payout",
            event_types=(
                "payout.created",
                "payout.updated",
                "payout.paid",
                "payout.failed",
                "payout.canceled",
                "payout.reconciliation_completed",
            ),
        ),
        # Which balance transactions each automatic payout settled: listed once per payout, when
        # it is paid or failed (GET /v1/balance_transactions?payout=po_...). The payouts are
        # listed from the oldest one not yet settled, so the work stays bounded.
        ResourceSpec(
            "payout_balance_transactions",
            "/v1/payouts",
            mutable=False,
            primary_key=("account_id", "payout_id", "balance_transaction_id"),
        ),
        ResourceSpec(
            "invoice_payments",
            "/v1/invoice_payments",
            mutable=True,
            object_type="invoice_payment",
            event_types=("invoice_payment.paid",),
        ),
        ResourceSpec(
            "invoices",
            "/v1/invoices",
            mutable=True,
            object_type="invoice",
            event_types=(
                "invoice.created",
                "invoice.updated",
                "invoice.finalized",
                "invoice.paid",
                "invoice.payment_succeeded",
                "invoice.payment_failed",
                "invoice.voided",
                "invoice.marked_uncollectible",
                "invoice.sent",
                "invoice.overdue",
                "invoice.deleted",
            ),
            deleted_event_types=("invoice.deleted",),
        ),
        # Line items have no list endpoint across invoices and no events of their own: they come
        # from each invoice's embedded `lines` (paged further when `has_more`), and are refreshed
        # by the invoice events.
        ResourceSpec(
            "invoice_line_items",
            "/v1/invoices",
            mutable=True,
            object_type="invoice",
            event_types=(
                "invoice.created",
                "invoice.updated",
                "invoice.finalized",
                "invoice.paid",
                "invoice.voided",
            ),
        ),
        ResourceSpec("events", "/v1/events", mutable=False, object_type="event"),
    )
}

RESOURCE_NAMES: tuple[str, ...] = tuple(RESOURCES)
