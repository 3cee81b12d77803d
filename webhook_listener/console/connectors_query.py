"""The Connectors page: per project its Stripe account, whether it is connected, its last sync
and its health, in words.

Connection status and the latest sync come from the ops store (live: an account connected a
second ago is there); health (webhook lag, failures, staleness) and the platform's own account
id come from the published marts `connector_health`, `connector_sync_state` and
`stripe_accounts`, as fresh as the last dbt run. Either may be missing; the page says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from stripe_pipeline.ops_store import StripeAccount, SyncState
from stripe_pipeline.settings import Settings

SYNC_SOURCE = "stripe_sync"  # the ops store row each account's sync run writes


@dataclass(frozen=True)
class MartsConnectors:
    """What the published marts know about connectors."""

    platform_account_id: str | None
    health: dict[str, dict[str, Any]]  # account id -> connector_health row
    sync_cursors: dict[str, dict[str, Any]]  # account id -> the stripe_sync cursor
    projects: list[str]  # every project that has money or an account in the marts


@dataclass(frozen=True)
class LastSync:
    state: str  # running, succeeded, failed
    started_at: datetime | None
    finished_at: datetime | None
    trigger: str | None
    rows: int | None
    error: str | None


@dataclass
class ConnectorRow:
    project_id: str
    account_id: str | None
    is_platform: bool
    status: str  # connected, disconnected, not connected
    livemode: bool | None = None
    last_sync: LastSync | None = None
    health: str = "unknown"  # connector_health.status, or unknown before the first build
    health_notes: list[str] = field(default_factory=list)
    can_connect: bool = False
    can_disconnect: bool = False
    can_sync: bool = False


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def ago(moment: datetime | None, now: datetime) -> str:
    """'3 min ago', '2 h ago', '5 days ago' (or 'never')."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def duration(seconds: int) -> str:
    return ago(datetime.fromtimestamp(0, UTC), datetime.fromtimestamp(seconds, UTC))[:-4]


def marts_connectors(con: duckdb.DuckDBPyConnection) -> MartsConnectors:
    platform = con.execute(
        "select stripe_account_id from marts.stripe_accounts where is_platform_account limit 1"
    ).fetchone()
    health_cursor = con.execute("select * from marts.connector_health")
    names = [d[0] for d in health_cursor.description]
    health = {row[0]: dict(zip(names, row, strict=True)) for row in health_cursor.fetchall()}
    cursors: dict[str, dict[str, Any]] = {}
    for account_id, cursor_json in con.execute(
        "select stripe_account_id, cursor_json from marts.connector_sync_state where source = ?",
        [SYNC_SOURCE],
    ).fetchall():
        try:
            cursors[account_id] = json.loads(cursor_json or "{}")
        except ValueError:
            continue
    projects = [
        p
        for (p,) in con.execute(
            "select project_id from marts.stripe_accounts union "
            "select project_id from marts.analytics_daily order by 1"
        ).fetchall()
    ]
    return MartsConnectors(platform[0] if platform else None, health, cursors, projects)


def last_sync(cursor: dict[str, Any] | None) -> LastSync | None:
    if not cursor:
        return None
    rows = cursor.get("rows")
    return LastSync(
        state=str(cursor.get("status") or "unknown"),
        started_at=_utc(cursor.get("started_at")),
        finished_at=_utc(cursor.get("finished_at")),
        trigger=cursor.get("trigger"),
        rows=sum(int(v) for v in rows.values()) if isinstance(rows, dict) else None,
        error=cursor.get("error"),
    )


def health_notes(health: dict[str, Any] | None, now: datetime) -> tuple[str, list[str]]:
    """connector_health's status and what it means, in sentences."""
    if not health:
        return "unknown", [
            "No health figures yet: they appear after the next sync builds the marts."
        ]
    notes: list[str] = []
    status = str(health["status"])
    if status == "failing" and health.get("last_error"):
        failed = _utc(health.get("last_failed_sync_at"))
        notes.append(f"The latest sync failed ({ago(failed, now)}): {health['last_error']}")
    elif status == "stale":
        notes.append(
            "No successful sync recently (last: "
            f"{ago(_utc(health.get('last_successful_sync_at')), now)}); press Sync now."
        )
    elif status == "disconnected":
        notes.append("Disconnected: no data is synced; landed data is kept.")
    pending = int(health.get("pending_webhook_events") or 0)
    lag = int(health.get("events_lag_seconds") or 0)
    if pending:
        notes.append(
            f"{pending} webhook event(s) waiting to be processed; the oldest for {duration(lag)}."
        )
    else:
        notes.append("No webhook event waiting.")
    skipped = int(health.get("skipped_webhook_events") or 0)
    if skipped:
        notes.append(f"{skipped} webhook event(s) skipped: they arrived while not connected.")
    failed_events = int(health.get("failed_webhook_events") or 0)
    if failed_events:
        notes.append(f"{failed_events} webhook event(s) failed to process.")
    evaluated = _utc(health.get("evaluated_at"))
    notes.append(f"As of the marts built {ago(evaluated, now)}.")
    return status, notes


def connector_rows(
    settings: Settings,
    accounts: list[StripeAccount],
    states: list[SyncState],
    marts: MartsConnectors | None,
    now: datetime | None = None,
) -> list[ConnectorRow]:
    """One row for the platform's own account, then (Connect on) one per connected or
    disconnected account, then one per known project that has no account."""
    now = now or datetime.now(UTC)
    live_cursors = {s.account_id: s.cursor for s in states if s.source == SYNC_SOURCE}

    def described(row: ConnectorRow) -> ConnectorRow:
        if row.account_id:
            cursor = live_cursors.get(row.account_id) or (
                marts.sync_cursors.get(row.account_id) if marts else None
            )
            row.last_sync = last_sync(cursor)
            row.health, row.health_notes = health_notes(
                marts.health.get(row.account_id) if marts else None, now
            )
        return row

    platform_id = marts.platform_account_id if marts else None
    rows = [
        described(
            ConnectorRow(
                project_id=settings.platform_project_id,
                account_id=platform_id,
                is_platform=True,
                status="connected",
                livemode=settings.livemode,
                can_sync=True,
            )
        )
    ]
    if not settings.connect_enabled:
        return rows
    seen_projects = {settings.platform_project_id}
    connected_projects = set()
    for account in sorted(accounts, key=lambda a: (a.project_id, a.status, a.stripe_account_id)):
        if account.stripe_account_id == platform_id:
            continue
        seen_projects.add(account.project_id)
        if account.is_connected:
            connected_projects.add(account.project_id)
        rows.append(
            described(
                ConnectorRow(
                    project_id=account.project_id,
                    account_id=account.stripe_account_id,
                    is_platform=False,
                    status=account.status,
                    livemode=account.livemode,
                    can_disconnect=account.is_connected,
                    can_sync=account.is_connected,
                )
            )
        )
    for row in rows:
        # A project whose account was disconnected can connect again (one account per project).
        row.can_connect = (
            not row.is_platform
            and row.status == "disconnected"
            and row.project_id not in connected_projects
        )
    for project in marts.projects if marts else []:
        if project not in seen_projects:
            rows.append(ConnectorRow(project, None, False, "not connected", can_connect=True))
    return rows
