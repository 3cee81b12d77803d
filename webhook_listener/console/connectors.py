"""Settings -> Connectors: the page, and its Connect, Disconnect and Sync now buttons.

The buttons call the same functions as the operator API (webhook_listener/oauth.py and
sync_routes.py), so a connection made here is the one the API would have made."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from stripe_pipeline.ops_store import StripeAccount
from webhook_listener.console.connectors_query import (
    MartsConnectors,
    ago,
    connector_rows,
    marts_connectors,
)
from webhook_listener.console.oauth_return import CONNECTORS_PATH, remember_return
from webhook_listener.console.serving import ConsoleDataError, reader
from webhook_listener.console.session import signed_in
from webhook_listener.console.templating import render, render_message
from webhook_listener.oauth import (
    DeauthorizeFailed,
    _platform_missing,
    disconnect_account,
    start_authorization,
)
from webhook_listener.sync_routes import resolve_sync_target
from webhook_listener.targets import BadRequest

_OAUTH_ERRORS = {
    "access_denied": "The connection was cancelled on Stripe's page; nothing was stored.",
}


def _flash(request: Request) -> list[tuple[str, str]]:
    """Messages about what the operator just did, from the URL the action redirected to."""
    params = request.query_params
    messages: list[tuple[str, str]] = []
    if connected := params.get("connected"):
        messages.append(
            (
                "ok",
                f"Stripe account {connected} is connected. Its data appears after its first sync.",
            )
        )
    if oauth_error := params.get("oauth_error"):
        messages.append(
            (
                "error",
                _OAUTH_ERRORS.get(
                    oauth_error,
                    f"Stripe answered '{oauth_error}'; nothing was stored. Try Connect again.",
                ),
            )
        )
    if already := params.get("already_connected"):
        messages.append(
            (
                "error",
                f"Stripe account {already} is already connected to project "
                f"{params.get('project', '?')}; nothing was changed. Disconnect it there first, "
                "then connect it again.",
            )
        )
    if disconnected := params.get("disconnected"):
        messages.append(
            ("ok", f"Stripe account {disconnected} is disconnected. Its landed data is kept.")
        )
    return messages


@signed_in
async def connectors_page(request: Request) -> Response:
    settings = request.app.state.settings
    store = request.app.state.store
    accounts = await run_in_threadpool(lambda: store.connected_accounts(include_disconnected=True))
    states = await run_in_threadpool(store.sync_states)
    marts: MartsConnectors | None = None
    unavailable = None
    try:
        marts = await reader(request).run(marts_connectors)
    except ConsoleDataError as problem:
        unavailable = problem.message
    sync_request = None
    if sync_id := request.query_params.get("sync"):
        sync_request = await run_in_threadpool(store.get_sync_request, sync_id)
    now = datetime.now(UTC)
    return render(
        request,
        "connectors.html",
        active="connectors",
        rows=connector_rows(settings, accounts, states, marts, now),
        connect_enabled=settings.connect_enabled,
        connect_problem=_platform_missing(settings) if settings.connect_enabled else None,
        unavailable=unavailable,
        messages=_flash(request),
        sync_request=sync_request,
        ago=lambda moment: ago(moment, now),
    )


def _connect_off(request: Request) -> Response:
    return render_message(
        request,
        404,
        "Stripe Connect is off",
        "STRIPE_CONNECT_ENABLED is off, so only the platform's own account is synced and no "
        "other account can be connected or disconnected.",
    )


@signed_in
async def connect(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.connect_enabled:
        return _connect_off(request)
    if problem := _platform_missing(settings):
        return render_message(request, 503, "Stripe Connect is not configured", problem)
    project_id = request.state.form.get("project_id", "").strip()
    if not project_id:
        return render_message(
            request, 400, "Which project?", "Give the project to connect a Stripe account to."
        )
    authorize_url, nonce = await start_authorization(request, project_id)
    response = RedirectResponse(authorize_url, status_code=303)
    remember_return(request, response, nonce)
    return response


async def _connected_account(request: Request, account_id: str) -> StripeAccount | None:
    account = await run_in_threadpool(request.app.state.store.get_account, account_id)
    return account if account is not None and account.is_connected else None


@signed_in
async def confirm_disconnect(request: Request) -> Response:
    if not request.app.state.settings.connect_enabled:
        return _connect_off(request)
    account_id = request.query_params.get("account", "")
    account = await _connected_account(request, account_id)
    if account is None:
        return render_message(
            request, 404, "No such connection", f"No connected Stripe account {account_id} here."
        )
    return render(request, "disconnect.html", active="connectors", account=account)


@signed_in
async def disconnect(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.connect_enabled:
        return _connect_off(request)
    account_id = request.state.form.get("account", "")
    if await _connected_account(request, account_id) is None:
        return render_message(
            request, 404, "No such connection", f"No connected Stripe account {account_id} here."
        )
    try:
        await disconnect_account(settings, request.app.state.store, account_id)
    except DeauthorizeFailed as failed:
        return render_message(request, 502, "Stripe did not disconnect the account", str(failed))
    return RedirectResponse(f"{CONNECTORS_PATH}?disconnected={account_id}", status_code=303)


@signed_in
async def sync_now(request: Request) -> Response:
    settings = request.app.state.settings
    form = request.state.form
    params = {"account_id": form["account"]} if form.get("account") else {}
    if form.get("platform") == "1" and settings.connect_enabled:
        params = {"project_id": settings.platform_project_id}
    try:
        target = await resolve_sync_target(request, params)
    except BadRequest as bad:
        return render_message(request, bad.status, "Cannot sync", bad.message)
    request_id = await run_in_threadpool(
        lambda: request.app.state.store.enqueue_sync_request(
            "transactions", project_id=target.project_id, account_id=target.account_id
        )
    )
    return RedirectResponse(f"{CONNECTORS_PATH}?sync={request_id}", status_code=303)


@signed_in
async def sync_status(request: Request) -> Response:
    found = await run_in_threadpool(
        request.app.state.store.get_sync_request, request.path_params["request_id"]
    )
    if found is None:
        return JSONResponse({"error": "no such sync request"}, status_code=404)
    return JSONResponse(
        {
            "id": found.id,
            "status": found.status,
            "error": found.error,
            "updated_at": found.updated_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )
