"""POST .../products and .../prices (behind STRIPE_CATALOG_WRITE_ENABLED): create the host app's
catalog on the connected account.

Each create carries an idempotency key derived from the app's own id and puts that id in the
Stripe object's metadata (`app_product_id` / `app_price_id`), so a retried call never makes a
second object and the product/price map matches on metadata exactly. Stripe keeps idempotency
keys for 24 hours; after that the metadata is what finds an existing object.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webhook_listener.guards import catalog_write_only, operator_only
from webhook_listener.responses import error
from webhook_listener.stripe_api import stripe_client
from webhook_listener.sync_routes import resolve_sync_target
from webhook_listener.targets import BadRequest, request_params

log = logging.getLogger("webhook_listener.catalog")


def _required_str(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(400, f"{name} is required (a non-empty string)")
    return value.strip()


async def _owner(request: Request, params: dict[str, Any]) -> tuple[str | None, str | None]:
    """(project_id, Stripe-Account or None for the platform's own account)."""
    target = await resolve_sync_target(request, params)
    if target.account_id is not None or not request.app.state.settings.connect_enabled:
        return target.project_id, target.account_id
    accounts = await run_in_threadpool(
        lambda: request.app.state.store.connected_accounts(project_id=target.project_id)
    )
    if len(accounts) == 1:
        return target.project_id, accounts[0].stripe_account_id
    if not accounts:
        # The platform project without a connected account writes to the platform itself.
        return target.project_id, None
    raise BadRequest(
        400, f"project {target.project_id} has several Stripe accounts: give account_id"
    )


async def _create(request: Request, kind: str) -> Response:
    settings = request.app.state.settings
    try:
        params = await request_params(request)
        project_id, account_id = await _owner(request, params)
        if kind == "product":
            app_id = _required_str(params, "app_product_id")
            body: dict[str, Any] = {"name": _required_str(params, "name")}
            if isinstance(params.get("description"), str):
                body["description"] = params["description"]
            if isinstance(params.get("active"), bool):
                body["active"] = params["active"]
            body["metadata"] = {"app_product_id": app_id}
        else:
            app_id = _required_str(params, "app_price_id")
            unit_amount = params.get("unit_amount")
            if not isinstance(unit_amount, int) or isinstance(unit_amount, bool) or unit_amount < 0:
                raise BadRequest(
                    400, "unit_amount is required: a whole number of minor units (e.g. cents), >= 0"
                )
            body = {
                "product": _required_str(params, "product"),
                "currency": _required_str(params, "currency").lower(),
                "unit_amount": unit_amount,
                "metadata": {"app_price_id": app_id},
            }
            interval = params.get("recurring_interval")
            if interval is not None:
                if interval not in ("day", "week", "month", "year"):
                    raise BadRequest(400, "recurring_interval must be day, week, month or year")
                body["recurring"] = {"interval": interval}
        if project_id:
            body["metadata"]["app_project_id"] = project_id
    except BadRequest as bad:
        return error(bad.status, bad.message)

    options: dict[str, Any] = {
        "idempotency_key": f"stripe-pipeline:{kind}:{account_id or 'platform'}:{app_id}"
    }
    if account_id:
        options["stripe_account"] = account_id

    def create() -> Any:
        client = stripe_client(settings, retries=2)
        service = client.v1.products if kind == "product" else client.v1.prices
        return service.create(body, options)  # type: ignore[arg-type]

    try:
        created = await run_in_threadpool(create)
    except stripe.IdempotencyError:
        return error(
            409,
            f"{kind} {app_id} was already created with different fields in the last 24 hours; "
            "update it instead of creating it again",
        )
    except stripe.InvalidRequestError as exc:
        return error(400, f"Stripe refused the {kind}: {exc.user_message or 'invalid request'}")
    except stripe.StripeError as exc:
        log.error("creating %s %s failed: %s", kind, app_id, type(exc).__name__)
        return error(
            502, f"Stripe could not create the {kind} ({type(exc).__name__}); retry, it is safe"
        )
    log.info(
        "created %s %s for app id %s on %s", kind, created.id, app_id, account_id or "platform"
    )
    return JSONResponse(
        {
            "id": created.id,
            f"app_{kind}_id": app_id,
            "account_id": account_id,
            "project_id": project_id,
        },
        status_code=201,
    )


@catalog_write_only
@operator_only
async def create_product(request: Request) -> Response:
    return await _create(request, "product")


@catalog_write_only
@operator_only
async def create_price(request: Request) -> Response:
    return await _create(request, "price")
