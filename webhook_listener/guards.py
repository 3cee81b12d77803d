"""Who may call what: the operator's bearer token and the feature flags, as route decorators."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from webhook_listener.responses import error

if TYPE_CHECKING:
    from stripe_pipeline.settings import Settings

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


def _off_is_404(enabled: Callable[[Settings], bool], message: str) -> Callable[[Handler], Handler]:
    """A route decorator: while the feature is off in the settings, the route does not exist (404)."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def gated(request: Request) -> Response:
            if not enabled(request.app.state.settings):
                return error(404, message)
            return await handler(request)

        return gated

    return decorator


# With STRIPE_CONNECT_ENABLED off, the Connect routes do not exist (404).
connect_only = _off_is_404(
    lambda settings: settings.connect_enabled,
    "Stripe Connect is off (STRIPE_CONNECT_ENABLED); this route does not exist",
)

catalog_write_only = _off_is_404(
    lambda settings: settings.catalog_write_enabled,
    "catalog write is off: set STRIPE_CATALOG_WRITE_ENABLED=1 (and reconnect accounts "
    "so they grant the read_write scope) to create products and prices",
)
