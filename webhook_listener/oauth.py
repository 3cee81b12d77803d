"""Connect Standard OAuth: start (operator), callback (the browser back from Stripe), disconnect.

The access token Stripe returns is never stored: Standard Connect reads a connected account
with the platform's key and a `Stripe-Account` header, so only the account id is kept.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from datetime import timedelta
from urllib.parse import urlencode

import stripe
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from stripe import oauth_error

from stripe_pipeline.ops_store import OAuthStateError, OpsStore, StripeAccount
from stripe_pipeline.settings import Settings
from webhook_listener.console.oauth_return import console_return
from webhook_listener.guards import connect_only, operator_only
from webhook_listener.oauth_state import (
    STATE_TTL_S,
    InvalidState,
    sign_state,
    state_key,
    verify_state,
)
from webhook_listener.responses import error, page
from webhook_listener.stripe_api import stripe_client
from webhook_listener.targets import BadRequest, request_params, target_of

log = logging.getLogger("webhook_listener.oauth")

CALLBACK_PATH = "/api/integrations/stripe/oauth/callback"
START_PATH = "/api/integrations/stripe/oauth/start"


def _platform_missing(settings: Settings) -> str | None:
    missing = [
        name
        for name, value in (
            ("STRIPE_CLIENT_ID", settings.stripe_client_id),
            ("STRIPE_CLIENT_SECRET", settings.stripe_client_secret),
        )
        if not value
    ]
    if missing:
        return f"Stripe Connect is not configured: set {' and '.join(missing)} on the listener"
    return None


async def start_authorization(request: Request, project_id: str) -> tuple[str, str]:
    """Stripe's authorize URL for connecting an account to `project_id` (with a new signed,
    single-use state), and the state's nonce. Used by oauth/start and the console's Connect."""
    settings = request.app.state.settings
    record = await run_in_threadpool(
        request.app.state.store.create_oauth_state, project_id, timedelta(seconds=STATE_TTL_S)
    )
    state = sign_state(
        state_key(settings.stripe_client_secret),
        project_id,
        record.nonce,
        int(record.expires_at.timestamp()),
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.stripe_client_id,
            # read_only unless the catalog write routes are on: ask for no more than we use.
            "scope": "read_write" if settings.catalog_write_enabled else "read_only",
            "redirect_uri": settings.listener_public_url + CALLBACK_PATH,
            "state": state,
        }
    )
    log.info("oauth start for project %s", project_id)
    return f"{settings.connect_base}/oauth/authorize?{query}", record.nonce


@connect_only
@operator_only
async def oauth_start(request: Request) -> Response:
    settings = request.app.state.settings
    if problem := _platform_missing(settings):
        return error(503, problem)
    project_id = request.query_params.get("project_id", "").strip()
    if not project_id:
        return error(400, "give the project to connect: ?project_id=...")
    authorize_url, _ = await start_authorization(request, project_id)
    return RedirectResponse(authorize_url, status_code=302, headers={"Cache-Control": "no-store"})


_RESTART = "Start the connection again from your project's Stripe settings."


@connect_only
async def oauth_callback(request: Request) -> Response:
    settings = request.app.state.settings
    if problem := _platform_missing(settings):
        return page(503, "Stripe Connect is not configured", problem)
    params = request.query_params
    state = params.get("state")
    if not state:
        log.warning("oauth callback refused: no state")
        return page(400, "Invalid connection link", "The link has no state parameter. " + _RESTART)
    try:
        claims = verify_state(state_key(settings.stripe_client_secret), state)
    except InvalidState as invalid:
        log.warning("oauth callback refused: %s state", invalid.reason)
        if invalid.reason == "expired":
            return page(
                400, "Connection link expired", "This link expired after 10 minutes. " + _RESTART
            )
        return page(
            400, "Invalid connection link", "This link was not issued by this server. " + _RESTART
        )
    try:
        project_id = await run_in_threadpool(
            request.app.state.store.consume_oauth_state, claims.nonce
        )
    except OAuthStateError as refused:
        log.warning("oauth callback refused: %s state", refused.reason)
        title = {"used": "Connection link already used", "expired": "Connection link expired"}.get(
            refused.reason, "Invalid connection link"
        )
        return page(400, title, f"{refused} ({_RESTART})")
    if project_id != claims.project_id:
        log.warning("oauth callback refused: state bound to another project")
        return page(
            400, "Invalid connection link", "This link was not issued by this server. " + _RESTART
        )

    if (raw_error := params.get("error")) is not None:
        # Stripe's error codes are snake_case words; anything else in the URL is not echoed.
        oauth_err = re.sub(r"[^a-z_]", "", raw_error)[:40] or "unknown"
        log.info("oauth callback for project %s: Stripe returned error %s", project_id, oauth_err)
        if (back := console_return(request, claims.nonce, oauth_error=oauth_err)) is not None:
            return back
        if oauth_err == "access_denied":
            return page(
                400,
                "Stripe connection cancelled",
                "The Stripe account was not connected because access was denied on Stripe's page. "
                "Nothing was stored. " + _RESTART,
            )
        return page(
            400,
            "Stripe connection failed",
            f"Stripe answered with error '{oauth_err}'. Nothing was stored. " + _RESTART,
        )
    code = params.get("code")
    if not code:
        return page(
            400,
            "Stripe connection failed",
            "Stripe's answer has no authorization code. " + _RESTART,
        )

    def exchange() -> dict:
        client = stripe_client(settings, retries=0)
        # Only these three fields leave this function: the access and refresh tokens stay here.
        answer = client.oauth.token({"grant_type": "authorization_code", "code": code}).to_dict()
        return {
            "stripe_user_id": answer.get("stripe_user_id"),
            "livemode": bool(answer.get("livemode", False)),
            "scope": answer.get("scope"),
        }

    try:
        granted = await run_in_threadpool(exchange)
    except oauth_error.InvalidGrantError:
        log.warning("oauth callback for project %s: code already used or expired", project_id)
        return page(
            400,
            "Authorization code already used",
            "Stripe refused this authorization code: it was already used or has expired. "
            "Nothing was stored. " + _RESTART,
        )
    except (oauth_error.OAuthError, stripe.StripeError) as exc:
        log.error("oauth code exchange failed for project %s: %s", project_id, type(exc).__name__)
        return page(
            502,
            "Could not reach Stripe",
            "Exchanging the authorization code with Stripe failed. Nothing was stored. " + _RESTART,
        )
    account_id = granted["stripe_user_id"]
    if not isinstance(account_id, str) or not account_id:
        return page(
            502, "Stripe connection failed", "Stripe's answer named no account. " + _RESTART
        )
    account = await run_in_threadpool(
        lambda: request.app.state.store.upsert_account(
            project_id=project_id,
            stripe_account_id=account_id,
            livemode=granted["livemode"],
            scope=granted["scope"],
        )
    )
    if account.project_id != project_id:
        # An account belongs to one project at a time; moving it silently would hand one
        # project's payments to another. Stripe's side is unchanged: the account was already
        # connected to this platform, for the other project.
        log.warning(
            "oauth callback refused: Stripe account %s is connected to project %s, not %s",
            account_id,
            account.project_id,
            project_id,
        )
        back = console_return(
            request, claims.nonce, already_connected=account_id, project=account.project_id
        )
        if back is not None:
            return back
        return page(
            409,
            "Stripe account already connected to another project",
            f"Stripe account {account_id} is already connected to project {account.project_id}. "
            f"Nothing was changed. To connect it to project {project_id}, an operator first "
            f"disconnects it from project {account.project_id} (POST "
            f"/api/integrations/stripe/disconnect?account_id={account_id}), then connects again.",
        )
    log.info("connected Stripe account %s to project %s", account.stripe_account_id, project_id)
    if (back := console_return(request, claims.nonce, connected=account_id)) is not None:
        return back
    return page(
        200,
        "Stripe account connected",
        f"Stripe account {account.stripe_account_id} is connected to project {project_id}. "
        "Its data will appear after the first sync.",
    )


@connect_only
@operator_only
async def disconnect(request: Request) -> Response:
    settings = request.app.state.settings
    store = request.app.state.store
    if problem := _platform_missing(settings):
        return error(503, problem)
    try:
        target = target_of(await request_params(request))
    except BadRequest as bad:
        return error(bad.status, bad.message)
    accounts: list[StripeAccount]
    if target.account_id:
        account = await run_in_threadpool(store.get_account, target.account_id)
        if account is None:
            return error(404, f"no Stripe account {target.account_id} was ever connected here")
        if target.project_id is not None and target.project_id != account.project_id:
            # The sync routes' rule: naming a project and another project's account is a mistake.
            return error(400, f"Stripe account {target.account_id} belongs to another project")
        accounts = [account]
    else:
        accounts = await run_in_threadpool(
            lambda: store.connected_accounts(project_id=target.project_id)
        )
        if not accounts:
            return error(404, f"project {target.project_id} has no connected Stripe account")

    disconnected = []
    for account in accounts:
        try:
            await disconnect_account(settings, store, account.stripe_account_id)
        except DeauthorizeFailed as failed:
            return error(502, str(failed))
        disconnected.append(account.stripe_account_id)
    # Landed data stays in the warehouse: disconnecting stops syncs, it does not erase history.
    return JSONResponse({"disconnected": disconnected, "at": int(time.time())})


class DeauthorizeFailed(Exception):
    """Stripe did not deauthorize the account; nothing was changed. The message says so."""


async def disconnect_account(settings: Settings, store: OpsStore, account_id: str) -> None:
    """Deauthorize `account_id` at Stripe, then mark it disconnected in the ops store. Used by
    the disconnect route and the console's Disconnect button."""

    def deauthorize() -> None:
        client = stripe_client(settings, retries=2)
        # InvalidClientError: Stripe no longer knows the connection (revoked from the dashboard);
        # the goal, a disconnected account, is already reached.
        with contextlib.suppress(oauth_error.InvalidClientError):
            client.oauth.deauthorize(
                {"client_id": settings.stripe_client_id, "stripe_user_id": account_id}
            )

    try:
        await run_in_threadpool(deauthorize)
    except (oauth_error.OAuthError, stripe.StripeError) as exc:
        log.error("deauthorize of %s failed: %s", account_id, type(exc).__name__)
        raise DeauthorizeFailed(
            f"Stripe did not deauthorize {account_id} ({type(exc).__name__}); "
            "nothing was changed for it, retry"
        ) from None
    await run_in_threadpool(store.set_account_status, account_id, "disconnected")
    log.info("disconnected Stripe account %s", account_id)
