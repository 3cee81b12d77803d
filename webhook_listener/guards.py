"""Who may call what: the operator's bearer token and the feature flags, as route decorators."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from webhook_listener.responses import error

Handler = Callable[[Request], Awaitable[Response]]


def operator_only(handler: Handler) -> Handler:
    """Requires `Authorization: Bearer <OPERATOR_TOKEN>`; refuses everyone when no token is set."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        expected = request.app.state.settings.operator_token
        if not expected:
            return error(
                503,
                "operator routes are disabled: set OPERATOR_TOKEN in the listener's environment "
                "and send it as 'Authorization: Bearer <token>'",
            )
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken must not reveal how much of a guess was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), expected.encode()
        ):
            return error(
                401,
                "missing or wrong operator token: send 'Authorization: Bearer <OPERATOR_TOKEN>'",
                headers={"WWW-Authenticate": 'Bearer realm="stripe-pipeline"'},
            )
        return await handler(request)

    return guarded


def connect_only(handler: Handler) -> Handler:
    """With STRIPE_CONNECT_ENABLED off, the Connect routes do not exist (404)."""

    @functools.wraps(handler)
    async def gated(request: Request) -> Response:
        if not request.app.state.settings.connect_enabled:
            return error(
                404, "Stripe Connect is off (STRIPE_CONNECT_ENABLED); this route does not exist"
            )
        return await handler(request)

    return gated


def catalog_write_only(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def gated(request: Request) -> Response:
        if not request.app.state.settings.catalog_write_enabled:
            return error(
                404,
                "catalog write is off: set STRIPE_CATALOG_WRITE_ENABLED=1 (and reconnect accounts "
                "so they grant the read_write scope) to create products and prices",
            )
        return await handler(request)

    return gated
