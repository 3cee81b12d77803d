"""The listener's ASGI app: `create_app(settings)`; `create_app_from_env()` for uvicorn workers.

Routes (all under /api/integrations/stripe):
    POST webhook                 Stripe's signed events (no token; the signature is the gate)
    GET  oauth/start             operator; Connect on: 302 to Stripe's authorize page
    GET  oauth/callback          the browser back from Stripe (no token; the signed state is the gate)
    POST disconnect              operator; Connect on
    POST sync/catalog            operator
    POST sync/transactions       operator; ?since=ISO date or Unix seconds
    POST products, POST prices   operator; catalog write on
GET /healthz checks that the ops store answers and can take a write.
/console: the operator console (webhook_listener/console/).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stripe_pipeline.ops_store import OpsStore
from stripe_pipeline.settings import Settings, load_settings
from stripe_pipeline.stripe_sdk_logging import silence_stripe_sdk_console
from webhook_listener.catalog_write import create_price, create_product
from webhook_listener.console.routes import console_mount
from webhook_listener.oauth import disconnect, oauth_callback, oauth_start
from webhook_listener.parent_watch import SUPERVISOR_PID_ENV, exit_with_parent
from webhook_listener.sync_routes import sync_catalog, sync_transactions
from webhook_listener.webhooks import receive_webhook

PREFIX = "/api/integrations/stripe"
access_log = logging.getLogger("webhook_listener.access")
log = logging.getLogger("webhook_listener")


class AccessLog:
    """Method, path, status and time of each request. Replaces uvicorn's access log, which
    prints the query string, and the OAuth callback's query string holds the code and state."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )


# A write that failed this recently (and none succeeded since) makes /healthz 503: a full disk
# fails the webhooks' writes but not a rolled-back probe.
WRITE_FAILURE_WINDOW_S = 60
# The write probe runs at most this often per worker; the checks in between cost one SELECT 1
# (a load balancer may poll /healthz every second).
WRITE_PROBE_INTERVAL_S = 5


def _unhealthy(problem: str, exc_type: str) -> Response:
    log.error("health check: %s (%s)", problem, exc_type)
    return JSONResponse(
        {"status": "error", "ops_store": exc_type, "error": problem}, status_code=503
    )


async def healthz(request: Request) -> Response:
    store = request.app.state.store
    try:
        await run_in_threadpool(store.ping)
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; the type says which
        return _unhealthy("ops store unreachable", type(exc).__name__)
    if failed := store.recent_write_failure(WRITE_FAILURE_WINDOW_S):
        return _unhealthy("ops store writes are failing; webhooks are answered 500", failed)
    now = time.monotonic()
    if now - getattr(request.app.state, "write_probed_at", float("-inf")) > WRITE_PROBE_INTERVAL_S:
        try:
            await run_in_threadpool(store.check_writable)
        except Exception as exc:  # noqa: BLE001 - as above
            return _unhealthy("ops store refuses writes (read-only?)", type(exc).__name__)
        request.app.state.write_probed_at = now
    return JSONResponse({"status": "ok"})


async def internal_error(request: Request, exc: Exception) -> Response:
    # Logged here, through our own logger, so the record reaches whatever handlers the host
    # configured (uvicorn's own error logger may not propagate). The message is the exception's,
    # and database errors carry no parameters (the engines hide them), so no payload leaks.
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return JSONResponse(
        {"error": "internal error, logged on the listener; a webhook will be retried by Stripe"},
        status_code=500,
    )


def create_app(settings: Settings, store: OpsStore | None = None) -> Starlette:
    """The app. With `store` given, the caller owns it; otherwise the app opens the ops store
    from settings at startup (applying migrations) and closes it at shutdown."""
    # Here, because every worker process builds its app: none may print the SDK's secrets.
    silence_stripe_sdk_console()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = store is None
        app.state.store = store or await run_in_threadpool(OpsStore.from_settings, settings)
        try:
            yield
        finally:
            if own:
                app.state.store.close()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(f"{PREFIX}/webhook", receive_webhook, methods=["POST"]),
        Route(f"{PREFIX}/oauth/start", oauth_start, methods=["GET"]),
        Route(f"{PREFIX}/oauth/callback", oauth_callback, methods=["GET"]),
        Route(f"{PREFIX}/disconnect", disconnect, methods=["POST"]),
        Route(f"{PREFIX}/sync/catalog", sync_catalog, methods=["POST"]),
        Route(f"{PREFIX}/sync/transactions", sync_transactions, methods=["POST"]),
        Route(f"{PREFIX}/products", create_product, methods=["POST"]),
        Route(f"{PREFIX}/prices", create_price, methods=["POST"]),
        console_mount(),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={Exception: internal_error}
    )
    app.state.settings = settings
    if store is not None:
        app.state.store = store
    app.add_middleware(AccessLog)
    return app


def create_app_from_env() -> Any:
    """For `uvicorn --factory` and every worker process: settings from the environment/.env."""
    if supervisor := os.environ.get(SUPERVISOR_PID_ENV):
        exit_with_parent(int(supervisor))
    return create_app(load_settings())
