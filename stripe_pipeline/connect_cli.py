"""`stripe-pipeline connect --project-id P`: print the link that connects a Stripe account.

Asks the running webhook listener for a Connect OAuth start (`GET
/api/integrations/stripe/oauth/start`, with the operator token) and prints the Stripe authorize
URL it redirects to. Open it in a browser, approve on Stripe's page, and Stripe sends the browser
back to the listener's callback, which stores the account. The link is single-use and expires
after 10 minutes. With `--wait`, the command then watches the ops store until the account is
connected.

Reads OPERATOR_TOKEN and LISTENER_PUBLIC_URL (and OPS_DATABASE_URL for --wait) from the
environment or .env: the same values the listener runs with.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

PREFIX = "/api/integrations/stripe"


class ConnectError(RuntimeError):
    """The listener did not hand out a link; the message says what to fix."""


def authorize_url(listener_url: str, operator_token: str, project_id: str) -> str:
    """The Stripe authorize URL the listener's oauth/start redirects to for `project_id`."""
    import httpx

    url = f"{listener_url.rstrip('/')}{PREFIX}/oauth/start"
    try:
        answer = httpx.get(
            url,
            params={"project_id": project_id},
            headers={"Authorization": f"Bearer {operator_token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise ConnectError(
            f"could not reach the listener at {listener_url} ({type(exc).__name__}): start it with "
            "`stripe-pipeline listener`, or set LISTENER_PUBLIC_URL to where it runs"
        ) from None
    if answer.status_code == 302 and "location" in answer.headers:
        return answer.headers["location"]
    detail = _detail(answer)
    hints = {
        401: "the listener refused the operator token: set OPERATOR_TOKEN to the listener's value",
        404: "the listener has Connect off: set STRIPE_CONNECT_ENABLED=true for it and restart it",
        503: "the listener is not configured for Connect",
    }
    hint = hints.get(answer.status_code, "see the listener's log")
    raise ConnectError(f"{url} answered {answer.status_code}: {detail} ({hint})")


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
        if isinstance(body, dict):
            return str(body.get("error") or body.get("message") or body)[:300]
    except ValueError:
        pass
    return answer.text[:300]


def wait_for_account(
    ops_database_url: str, project_id: str, known: set[str], timeout: float
) -> str | None:
    """The first account connected to `project_id` that is not in `known`, or None on timeout."""
    from stripe_pipeline.ops_store import OpsStore

    deadline = time.monotonic() + timeout
    with OpsStore.open(ops_database_url) as store:
        while time.monotonic() < deadline:
            for account in store.connected_accounts(project_id=project_id):
                if account.stripe_account_id not in known:
                    return account.stripe_account_id
            time.sleep(1)
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-id",
        required=True,
        help="your project's id: the connected account's data is tagged with it",
    )
    parser.add_argument(
        "--listener-url",
        default=None,
        help="where the listener answers (default: LISTENER_PUBLIC_URL)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="then wait up to this long for the account to be connected (reads OPS_DATABASE_URL)",
    )


def run(args: argparse.Namespace) -> int:
    from stripe_pipeline.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"connect failed: {exc}", file=sys.stderr)
        return 2
    if not settings.operator_token:
        print(
            "connect failed: OPERATOR_TOKEN is not set: put the listener's operator token in the "
            "environment or .env",
            file=sys.stderr,
        )
        return 2
    listener_url = args.listener_url or settings.listener_public_url
    known: set[str] = set()
    if args.wait:
        from stripe_pipeline.ops_store import OpsStore

        with OpsStore.open(settings.ops_database_url) as store:
            known = {
                a.stripe_account_id for a in store.connected_accounts(project_id=args.project_id)
            }
    try:
        url = authorize_url(listener_url, settings.operator_token, args.project_id)
    except ConnectError as exc:
        print(f"connect failed: {exc}", file=sys.stderr)
        return 1
    print(f"Open this link in a browser to connect a Stripe account to project {args.project_id}")
    print("(single use, valid for 10 minutes):")
    print()
    print(url, flush=True)
    if not args.wait:
        print()
        print(
            "After you approve on Stripe's page, the listener's page says which account is connected."
        )
        return 0
    print()
    print(f"waiting up to {args.wait:.0f}s for the connection ...", flush=True)
    account = wait_for_account(settings.ops_database_url, args.project_id, known, args.wait)
    if account is None:
        print(
            "connect: no new account was connected in time; open the link again (or run this "
            "command again for a fresh one) and check the listener's log",
            file=sys.stderr,
        )
        return 1
    print(f"connected {account} to project {args.project_id}; now run `stripe-pipeline sync`")
    return 0
