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


def record_sync_started(
    store: OpsStore, project_id: str, account_id: str, run_id: str, trigger: str
) -> None:
    """The `stripe.sync.started` event: written before the first request to Stripe."""
    previous = store.sync_state(project_id, account_id, SYNC_STATE_SOURCE)
    cursor: dict[str, Any] = dict(previous.cursor) if previous else {}
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
) -> None:
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
    if not error:
        cursor["last_succeeded_at"] = finished_at
    store.record_sync_state(project_id, account_id, SYNC_STATE_SOURCE, cursor)
