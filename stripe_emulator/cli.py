"""Serve the local Stripe API emulator (api.stripe.com and connect.stripe.com on one address).

Point STRIPE_API_BASE and STRIPE_CONNECT_BASE at the printed URL and use the printed key."""

from __future__ import annotations

import argparse
import datetime as dt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument(
        "--seed", type=int, default=42, help="generator seed (same seed, same data)"
    )
    parser.add_argument("--accounts", type=int, default=2, help="connected accounts")
    parser.add_argument(
        "--unconnected-accounts",
        type=int,
        default=1,
        help="accounts that exist but must be connected through OAuth first",
    )
    parser.add_argument("--charges", type=int, default=500, help="charges per account")
    parser.add_argument(
        "--account-charges",
        action="append",
        default=[],
        metavar="N=COUNT",
        help="charges for account number N only (0: the platform, 1..: connected), e.g. 1=1000000",
    )
    parser.add_argument("--days", type=int, default=60, help="days of generated history")
    parser.add_argument(
        "--end",
        default=None,
        help="end of the generated history, YYYY-MM-DD (default: today 00:00 UTC)",
    )
    parser.add_argument(
        "--live-rate",
        type=float,
        default=0.0,
        help="new payments per second after start-up, spread over the platform and connected "
        "accounts, each writing its events",
    )
    parser.add_argument("--api-key", default="sk_test_emulator", help="the secret key to accept")
    parser.add_argument("--client-id", default="ca_emulator", help="the Connect client id")
    parser.add_argument("--webhook-url", default=None, help="deliver every event to this URL")
    parser.add_argument(
        "--webhook-secret", default=None, help="its signing secret, whsec_... (default: random)"
    )
    from stripe_emulator import faults

    faults.add_cli_arguments(parser)


def _account_charges(values: list[str]) -> dict[int, int]:
    out = {}
    for value in values:
        number, sep, count = value.partition("=")
        if not sep or not number.isdigit() or not count.isdigit():
            raise SystemExit(f"--account-charges wants N=COUNT (e.g. 1=1000000), not {value!r}")
        out[int(number)] = int(count)
    return out


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from stripe_emulator.app import create_app
    from stripe_emulator.store import Store, StoreOptions

    end = None
    if args.end:
        end = int(dt.datetime.fromisoformat(args.end).replace(tzinfo=dt.UTC).timestamp())
    store = Store.generate(
        StoreOptions(
            seed=args.seed,
            accounts=args.accounts,
            unconnected_accounts=args.unconnected_accounts,
            charges=args.charges,
            days=args.days,
            end=end,
            api_key=args.api_key,
            client_id=args.client_id,
            charges_by_account=_account_charges(args.account_charges),
        )
    )
    app = create_app(store, live_rate=args.live_rate)
    from stripe_emulator import faults, webhooks

    served = faults.wrap(app, faults.config_from_args(args))
    if args.webhook_url:
        webhooks.add_startup_endpoint(store, args.webhook_url, args.webhook_secret)
    base_url = f"http://{args.host}:{args.port}"
    connected = store.connected_ids()
    unconnected = [a for a in store.accounts if a != store.platform_id and a not in connected]
    lines = [
        f"Stripe emulator on {base_url}",
        f"  STRIPE_API_BASE={base_url}",
        f"  STRIPE_CONNECT_BASE={base_url}",
        f"  STRIPE_CLIENT_SECRET={args.api_key}",
        f"  STRIPE_CLIENT_ID={args.client_id}",
        f"  platform account:    {store.platform_id}",
        f"  connected accounts:  {', '.join(connected) or '(none)'}",
        f"  unconnected accounts (connect with OAuth): {', '.join(unconnected) or '(none)'}",
        f"  data: seed {args.seed}, {args.charges} charges per account over {args.days} days"
        + (f", {args.live_rate:g} new payments/s" if args.live_rate else ""),
        "  serves: GET /v1/account, /v1/accounts, products, prices, customers, payment_intents,",
        "          charges, refunds, disputes, balance_transactions, invoices (+ /lines), events,",
        "          webhook_endpoints"
        + (f"; extensions: {', '.join(app.extensions)}" if app.extensions else ""),
    ]
    print("\n".join(lines), flush=True)
    uvicorn.run(
        served, host=args.host, port=args.port, log_level="warning", http="httptools", lifespan="on"
    )
    return 0
