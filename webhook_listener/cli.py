"""Serve the webhook listener (Stripe webhooks, Connect OAuth, sync and catalog routes) with
uvicorn. Configuration comes from the environment or .env (see docs/webhooks.md)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (they share the ops store safely)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import logging.config
    import os
    import sys

    import uvicorn
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from stripe_pipeline.ops_store import OpsStore
    from stripe_pipeline.settings import ConfigError, load_settings
    from webhook_listener.logging_config import logging_config
    from webhook_listener.parent_watch import SUPERVISOR_PID_ENV

    # The parent's own lines (this function's errors, uvicorn's supervisor) in the workers' format.
    logging.config.dictConfig(logging_config(args.log_level))
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"stripe-pipeline listener: {exc}", file=sys.stderr)
        return 2
    # Migrate once here so the workers start on an up-to-date schema (they re-check, cheaply).
    try:
        OpsStore.from_settings(settings).close()
    except (SQLAlchemyError, OSError, ValueError) as exc:
        where = make_url(settings.ops_database_url).render_as_string(hide_password=True)
        print(
            f"stripe-pipeline listener: cannot open the ops store at {where} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); check OPS_DATABASE_URL "
            "and that the database server is running",
            file=sys.stderr,
        )
        return 2
    if not settings.stripe_webhook_secrets:
        logging.getLogger("webhook_listener").warning(
            "STRIPE_WEBHOOK_SECRET is not set: webhooks will be answered 503 until it is"
        )
    # The workers watch this process: if it dies without stopping them, they stop themselves.
    os.environ[SUPERVISOR_PID_ENV] = str(os.getpid())
    uvicorn.run(
        "webhook_listener.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Our AccessLog middleware logs paths without query strings (OAuth codes live there).
        access_log=False,
        # Applied by uvicorn in every worker process (they start from a fresh interpreter).
        log_config=logging_config(args.log_level),
        log_level=args.log_level,
        # The listener sits behind a proxy in production; trust only a local one by default.
        proxy_headers=True,
        server_header=False,
        # Slow clients: headers within LISTENER_HEADER_TIMEOUT_S (this protocol), a webhook body
        # within WEBHOOK_BODY_TIMEOUT_S (the route), idle keep-alive connections closed after 5 s.
        http="webhook_listener.http_timeouts:HeaderTimeoutProtocol",
        timeout_keep_alive=5,
        # A worker told to stop (SIGTERM, or its main process gone) answers what is in flight,
        # but waits no longer than this for slow connections.
        timeout_graceful_shutdown=10,
    )
    return 0
