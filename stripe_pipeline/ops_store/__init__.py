"""The ops store: OAuth states, connected accounts, the webhook inbox, sync requests and sync
cursors. SQLite by default (`OPS_DATABASE_URL`, default `sqlite:///data/ops.sqlite`), Postgres
by URL, one SQLAlchemy Core layer; numbered migrations are applied when it opens.

It is never the DuckDB warehouse: the listener must never wait on a pipeline run. Several
listener workers and the Dagster sensors use it at once: SQLite runs in WAL mode with a busy
timeout and writers lock at BEGIN; every insert that can race is an INSERT ... ON CONFLICT.

API (all methods are synchronous and thread-safe):

    store = OpsStore.open(url)                 # or OpsStore.from_settings(load_settings())

    # webhook inbox (written by the listener, read by the inbox sensor)
    store.record_webhook_event(event_id=..., type=..., payload_hash=..., payload=...,
                               account_id=None, livemode=False, api_version=None, created=None)
        -> Outcome.STORED | Outcome.DUPLICATE | Outcome.CONFLICT
    store.pending_webhook_events(limit=500, account_id=None) -> list[WebhookEvent]  # status received
    store.mark_events_processed(ids, run_id=None) -> int
    store.mark_events_failed(ids, run_id=None) -> int
    store.mark_events_skipped(ids, reason) -> int   # account never connected / disconnected
    store.webhook_event(id) -> WebhookEvent | None;  store.webhook_conflicts(event_id=None)

    # connected accounts (written by the OAuth callback, disconnect and deauthorization events)
    store.connected_accounts(include_disconnected=False, project_id=None) -> list[StripeAccount]
    store.get_account(stripe_account_id) -> StripeAccount | None
    store.upsert_account(project_id=..., stripe_account_id=..., livemode=..., scope=...,
                         status="connected") -> StripeAccount
    store.set_account_status(stripe_account_id, "connected" | "disconnected") -> bool

    # sync requests (written by the listener's sync routes, read by the sync sensor)
    store.enqueue_sync_request("catalog" | "transactions", project_id=None, account_id=None,
                               since=None) -> str   # "sync_<hex>"; since: Unix seconds
    store.pending_sync_requests(limit=100) -> list[SyncRequest]
    store.mark_sync_request(id, "running" | "succeeded" | "failed", run_id=None, error=None) -> bool

    # OAuth states (the listener signs the nonce; see webhook_listener/oauth_state.py)
    store.create_oauth_state(project_id, ttl=timedelta(minutes=10)) -> OAuthStateRecord
    store.consume_oauth_state(nonce) -> project_id   # raises OAuthStateError(reason)

    # connector sync cursors
    store.record_sync_state(project_id, account_id, source, cursor: dict) -> None
    store.sync_state(project_id, account_id, source) -> SyncState | None
    store.sync_states(project_id=None) -> list[SyncState]
"""

from stripe_pipeline.ops_store.models import (
    OAuthStateError,
    OAuthStateRecord,
    Outcome,
    StripeAccount,
    SyncRequest,
    SyncState,
    WebhookConflict,
    WebhookEvent,
)
from stripe_pipeline.ops_store.store import DEAUTHORIZED_EVENT, OpsStore

__all__ = [
    "DEAUTHORIZED_EVENT",
    "OAuthStateError",
    "OAuthStateRecord",
    "OpsStore",
    "Outcome",
    "StripeAccount",
    "SyncRequest",
    "SyncState",
    "WebhookConflict",
    "WebhookEvent",
]
