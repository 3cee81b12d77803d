"""POST .../sync/catalog and .../sync/transactions?since=...: queue a sync for the sensors."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webhook_listener.guards import operator_only
from webhook_listener.responses import error
from webhook_listener.targets import BadRequest, Target, request_params, target_of

log = logging.getLogger("webhook_listener.sync")

_SINCE_HELP = "since must be an ISO date (2026-01-31), an ISO timestamp (2026-01-31T12:00:00Z) or Unix seconds"


def parse_since(value: Any) -> int | None:
    """Unix seconds from an ISO date/timestamp or Unix seconds; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,11}", value.strip()):
        seconds = int(value.strip())
    elif isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
        except ValueError:
            raise BadRequest(400, f"{_SINCE_HELP}; got {value[:40]!r}") from None
        seconds = int(moment.timestamp())
    else:
        raise BadRequest(400, _SINCE_HELP)
    if seconds < 0 or seconds > datetime.now(UTC).timestamp() + 86400:
        raise BadRequest(400, f"{_SINCE_HELP}, not in the future; got {value!r}")
    return seconds


async def resolve_sync_target(request: Request, params: dict[str, Any]) -> Target:
    settings = request.app.state.settings
    store = request.app.state.store
    if (
        not settings.connect_enabled
        and params.get("project_id") is None
        and params.get("account_id") is None
    ):
        # Connect off: the only account is the platform's own, owned by the platform project.
        return Target(project_id=settings.platform_project_id, account_id=None)
    target = target_of(params)
    if not settings.connect_enabled:
        if target.account_id is not None:
            raise BadRequest(
                404,
                "Stripe Connect is off (STRIPE_CONNECT_ENABLED): there are no connected accounts; sync by project_id",
            )
        return target
    if target.account_id is not None:
        account = await run_in_threadpool(store.get_account, target.account_id)
        if account is None or not account.is_connected:
            raise BadRequest(404, f"Stripe account {target.account_id} is not connected here")
        if target.project_id is not None and target.project_id != account.project_id:
            raise BadRequest(400, f"Stripe account {target.account_id} belongs to another project")
        return Target(project_id=account.project_id, account_id=account.stripe_account_id)
    if target.project_id != settings.platform_project_id:
        accounts = await run_in_threadpool(
            lambda: store.connected_accounts(project_id=target.project_id)
        )
        if not accounts:
            raise BadRequest(
                404,
                f"project {target.project_id} has no connected Stripe account; connect one via "
                "GET /api/integrations/stripe/oauth/start?project_id=...",
            )
    return target


async def _enqueue(request: Request, kind: str) -> Response:
    try:
        params = await request_params(request)
        since = parse_since(params.get("since"))
        if kind == "catalog" and since is not None:
            raise BadRequest(
                400, "a catalog sync takes no since: it always reads the whole catalog"
            )
        target = await resolve_sync_target(request, params)
    except BadRequest as bad:
        return error(bad.status, bad.message)
    request_id = await run_in_threadpool(
        lambda: request.app.state.store.enqueue_sync_request(
            kind, project_id=target.project_id, account_id=target.account_id, since=since
        )
    )
    log.info(
        "queued %s sync %s for project %s account %s",
        kind,
        request_id,
        target.project_id,
        target.account_id,
    )
    return JSONResponse(
        {
            "id": request_id,
            "kind": kind,
            "status": "pending",
            "project_id": target.project_id,
            "account_id": target.account_id,
            "since": since,
        },
        status_code=202,
    )


@operator_only
async def sync_catalog(request: Request) -> Response:
    return await _enqueue(request, "catalog")


@operator_only
async def sync_transactions(request: Request) -> Response:
    return await _enqueue(request, "transactions")
