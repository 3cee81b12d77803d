"""The `stripe_sync` row of `connector_sync_state` (see docs/architecture.md, "Sync runs"):
where an account's latest sync, its start events and its last error are kept for the marts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stripe_pipeline.ops_store import OpsStore

SYNC_STATE_SOURCE = "stripe_sync"
HISTORY_LENGTH = 50
# Errors land in the ops store and the marts; long tracebacks belong in the Dagster run logs.
MAX_ERROR_CHARS = 500


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sync_cursors(store: OpsStore) -> dict[tuple[str, str], dict[str, Any]]:
    """Every account's `stripe_sync` cursor, by (project_id, account_id), in one query: a batch
    of a thousand accounts reads them once instead of once per account."""
    return {
        (s.project_id, s.account_id): dict(s.cursor)
        for s in store.sync_states()
        if s.source == SYNC_STATE_SOURCE
    }


def record_sync_started(
    store: OpsStore,
    project_id: str,
    account_id: str,
    run_id: str,
    trigger: str,
    batch_id: str | None = None,
    previous: dict[str, Any] | None = None,
) -> None:
    """The `stripe.sync.started` event: written before the first request to Stripe. `batch_id`
    names the batch (a run and its re-executions) so a resumed batch skips the accounts it
    already landed; `previous`: the account's cursor when the caller read it already."""
    if previous is None:
        state = store.sync_state(project_id, account_id, SYNC_STATE_SOURCE)
        previous = state.cursor if state else None
    cursor: dict[str, Any] = dict(previous) if previous else {}
    started_at = _now()
    history = [{"run_id": run_id, "started_at": started_at, "trigger": trigger}]
    history += [h for h in cursor.get("history", []) if h.get("run_id") != run_id]
    cursor.update(
        run_id=run_id,
        trigger=trigger,
        status="running",
        started_at=started_at,
        finished_at=None,
        rows={},
        history=history[:HISTORY_LENGTH],
        batch_id=batch_id or run_id,
    )
    cursor.setdefault("last_succeeded_at", None)
    cursor.setdefault("error", None)
    store.record_sync_state(project_id, account_id, SYNC_STATE_SOURCE, cursor)


def record_sync_finished(
    store: OpsStore,
    project_id: str,
    account_id: str,
    run_id: str,
    rows: dict[str, int],
    error: str | None = None,
    outcome: str | None = None,
) -> dict[str, Any]:
    """`outcome`: how the sync went beyond success, e.g. `unchanged` (nothing new at Stripe)."""
    previous = store.sync_state(project_id, account_id, SYNC_STATE_SOURCE)
    cursor: dict[str, Any] = dict(previous.cursor) if previous else {"history": []}
    finished_at = _now()
    cursor.update(
        run_id=run_id,
        status="failed" if error else "succeeded",
        finished_at=finished_at,
        rows=rows,
        error=error[:MAX_ERROR_CHARS] if error else None,
    )
    if outcome:
        cursor["outcome"] = outcome
    else:
        cursor.pop("outcome", None)
    if not error:
        cursor["last_succeeded_at"] = finished_at
    store.record_sync_state(project_id, account_id, SYNC_STATE_SOURCE, cursor)
    return cursor


def landed_in_batch(cursor: dict[str, Any] | None, batch_id: str) -> bool:
    """Whether this batch (an earlier attempt of it) already landed the account."""
    return (
        bool(cursor) and cursor.get("batch_id") == batch_id and cursor.get("status") == "succeeded"
    )
