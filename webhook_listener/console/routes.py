"""The console's routes, mounted by the listener app under /console.

GET  /console/login, POST /console/login, POST /console/logout
GET  /console/connectors                 POST .../connect, .../disconnect, .../sync
GET  /console/connectors/disconnect      the confirmation step
GET  /console/connectors/sync/{id}       a sync request's status (JSON, polled)
GET  /console/transactions               GET .../count (JSON, polled), GET .../export.csv
GET  /console/analytics, GET /console/catalog
GET  /console/static/...                 the stylesheet and the small script
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from webhook_listener.console import connectors, login, pages

STATIC = Path(__file__).parent / "static"


def console_mount() -> Mount:
    return Mount(
        "/console",
        routes=[
            Route("/", login.home, methods=["GET"]),
            Route("/login", login.login_page, methods=["GET"]),
            Route("/login", login.login, methods=["POST"]),
            Route("/logout", login.logout, methods=["POST"]),
            Route("/connectors", connectors.connectors_page, methods=["GET"]),
            Route("/connectors/connect", connectors.connect, methods=["POST"]),
            Route("/connectors/disconnect", connectors.confirm_disconnect, methods=["GET"]),
            Route("/connectors/disconnect", connectors.disconnect, methods=["POST"]),
            Route("/connectors/sync", connectors.sync_now, methods=["POST"]),
            Route("/connectors/sync/{request_id}", connectors.sync_status, methods=["GET"]),
            Route("/transactions", pages.transactions, methods=["GET"]),
            Route("/transactions/count", pages.transactions_count, methods=["GET"]),
            Route("/transactions/export.csv", pages.transactions_csv, methods=["GET"]),
            Route("/analytics", pages.analytics, methods=["GET"]),
            Route("/catalog", pages.catalog, methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="console-static"),
        ],
    )
