"""Connect fan-out: `stripe-pipeline sync` over many connected accounts, against the emulator.

    .venv/bin/python benchmarks/fanout.py --accounts 1000 --charges 20
    .venv/bin/python benchmarks/fanout.py --accounts 40 --charges 100 --pycache-prefix /tmp/pyc

The emulator runs in a subprocess serving N accounts (the platform's own and N-1 connected
ones, all in the ops store as connected); `stripe-pipeline sync` (no `--account`: every account,
then the marts) runs as a user runs it, a subprocess on a fresh DAGSTER_HOME (the project's
dagster.yaml) and a fresh DuckDB warehouse, three times:

    first     the first sync of every account (backfill), marts built and published
    noop      the same again with no new data
    changed   after `--changed` accounts each got one new payment (payment_intents.create with
              confirm=true on the connected account)

The same-run baseline is the floor of a no-op incremental: one `GET /v1/events` page per
account (limit 100, created since the first sync started), fetched by 16 threads with no
processing. The emulator counts the API requests it serves per sync.

The LAST line printed is one JSON object:

    accounts, charges                 accounts synced, generated charges per account
    first_sync_s, noop_sync_s,
    changed_sync_s                    wall time of each `stripe-pipeline sync` (marts included)
    noop_baseline_s                   the baseline above
    noop_over_baseline                noop_sync_s / noop_baseline_s
    per_account_noop_ms               noop_sync_s / accounts
    requests_per_account              API requests served per account in each sync
    peak_rss_mb                       the largest resident memory of a sync process (its own
                                      children, such as dbt, are separate processes)
    exact                             every account's charges equal the emulator's (generated
                                      plus the new payments) and no landed table holds a
                                      (account_id, id) twice
    bytecode_cache                    whether --pycache-prefix let processes cache bytecode
    load_average                      `os.getloadavg()` before the first and after the last sync

Measured on the 2-core development machine, shared with other jobs (load average 11 to 15), no
bytecode cache:

    before (one Dagster run per account, each its own dlt pipeline; 10 accounts, load 2.2 -> 4.0):
        first 82.7 s, no-op 62.5 s (6.2 s per account), changed 62.5 s, 21 requests per account
        in a no-op sync, peak RSS 347 MB, exact
    after (one batch: an ingest run over the range, then one marts run; 1,000 accounts x 20
    charges; two copies of the benchmark ran at once by mistake, so each ran beside the other):
        first 881 s (ingest run 736 s, of which ~10,000 per-account materialization events;
        marts run 81 s), no-op 154 s (ingest run 21 s, marts run 85 s, the rest two Python
        processes starting), changed 144 s, 1.0 request per account in a no-op sync (baseline
        0.57 s), peak RSS 510 MB, exact
    after, with the money resources merged (payouts, payout links, invoice payments, pending
    balance transactions listed again), one copy alone (load 7.7 -> 6.4; a Postgres test ran
    beside it for its first ten minutes):
        first 697.6 s (47.3 requests per account), no-op 69.2 s (1.3 requests per account: the
        events page, and pending balance transactions listed again), changed 38.4 s, baseline
        0.53 s, peak RSS 593 MB, exact
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

API_KEY = "sk_test_emulator"
BASELINE_THREADS = 16
COUNTS_PATH = "/_bench/requests"


# --------------------------------------------------------------------------- emulator process


class _CountingApp:
    """Counts the API requests the emulator serves, per Stripe-Account; GET /_bench/requests
    answers the counts and resets them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == COUNTS_PATH:
            with self.lock:
                body, self.counts = json.dumps(self.counts).encode(), {}
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            headers = dict(scope.get("headers") or ())
            account = (headers.get(b"stripe-account") or b"platform").decode()
            with self.lock:
                self.counts[account] = self.counts.get(account, 0) + 1
        await self.app(scope, receive, send)


def serve_emulator(args: argparse.Namespace) -> int:
    import uvicorn

    from stripe_emulator import faults
    from stripe_emulator.app import create_app
    from stripe_emulator.store import Store, StoreOptions

    store = Store.generate(
        StoreOptions(seed=args.seed, accounts=max(0, args.accounts - 1), charges=args.charges)
    )
    app = _CountingApp(faults.wrap(create_app(store)))
    print(json.dumps({"platform": store.platform_id, "connected": store.connected_ids()}))
    sys.stdout.flush()
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        http="httptools", loop="asyncio", backlog=4096,
    )  # fmt: skip
    return 0


def start_emulator(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen, dict]:
    cmd = [sys.executable, __file__, "_serve", "--port", str(port), "--charges",
           str(args.charges), "--accounts", str(args.accounts), "--seed", str(args.seed)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{COUNTS_PATH}", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return proc, info


def request_counts(base: str) -> dict[str, int]:
    with urllib.request.urlopen(base + COUNTS_PATH, timeout=10) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------- the runs


def sync(env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "ab") as out:
        code = subprocess.run(
            [sys.executable, "-m", "stripe_pipeline.cli", "sync"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False,
        ).returncode  # fmt: skip
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"stripe-pipeline sync exited with {code}; see {log}")
    return seconds


def baseline(base: str, accounts: list[str], platform: str, since: int) -> float:
    """One events page per account, nothing processed: the floor of a no-op incremental."""
    import requests

    local = threading.local()

    def fetch(account: str) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
        headers = {} if account == platform else {"Stripe-Account": account}
        response = session.get(
            f"{base}/v1/events",
            params={"limit": 100, "created[gte]": since},
            headers=headers,
            auth=(API_KEY, ""),
            timeout=60,
        )
        response.raise_for_status()
        return len(response.content)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(BASELINE_THREADS) as pool:
        list(pool.map(fetch, accounts))
    return time.perf_counter() - started


def pay(base: str, accounts: list[str]) -> None:
    import stripe

    client = stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=2)
    for account in accounts:
        client.v1.payment_intents.create(
            {"amount": 4200, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"},
            {"stripe_account": account},
        )


def check_exact(warehouse: Path, expected: dict[str, int]) -> tuple[bool, dict[str, Any]]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        landed = dict(
            con.execute("select account_id, count(*) from stripe.charges group by 1").fetchall()
        )
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'stripe' "
                "and table_name not like '\\_dlt%' escape '\\' and table_name not like '\\_%' "
                "escape '\\'"
            ).fetchall()
        ]
        duplicates = {}
        for table in tables:
            columns = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'stripe' and table_name = ?",
                    [table],
                ).fetchall()
            }
            if {"account_id", "id"} <= columns:
                total, distinct = con.execute(
                    f"select count(*), count(distinct (account_id, id)) from stripe.{table}"
                ).fetchone()
                if total != distinct:
                    duplicates[table] = total - distinct
    wrong = {a: (landed.get(a, 0), n) for a, n in expected.items() if landed.get(a, 0) != n}
    detail = {"accounts_wrong": len(wrong), "example": dict(list(wrong.items())[:3]),
              "duplicates": duplicates}  # fmt: skip
    return not wrong and not duplicates, detail


def peak_rss_mb() -> float:
    # Children that ended and were waited for: the largest resident set among them (KiB on Linux).
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from stripe_emulator.testing import free_port
    from stripe_pipeline.ops_store import OpsStore

    root = Path(tempfile.mkdtemp(prefix="fanout_"))
    print(f"working in {root}", flush=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    emulator, info = start_emulator(args, port)
    try:
        platform, connected = info["platform"], info["connected"]
        accounts = [platform, *connected]
        data = root / "data"
        data.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DBT_"))}
        env.update(
            {
                "STRIPE_CLIENT_SECRET": API_KEY,
                "STRIPE_CLIENT_ID": "ca_emulator",
                "STRIPE_API_BASE": base,
                "STRIPE_CONNECT_BASE": base,
                "STRIPE_CONNECT_ENABLED": "true",
                "STRIPE_PIPELINE_DATA_DIR": str(data),
                "WAREHOUSE_PATH": str(data / "warehouse.duckdb"),
                "SERVING_DIR": str(data / "serving"),
                "OPS_DATABASE_URL": f"sqlite:///{data / 'ops.sqlite'}",
                "APP_DATABASE_URL": "",
                "DAGSTER_HOME": str(root / "dagster_home"),
            }
        )
        if args.rate_limit:
            env["STRIPE_RATE_LIMIT"] = str(args.rate_limit)
        if args.pycache_prefix:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = args.pycache_prefix
        with OpsStore.open(env["OPS_DATABASE_URL"]) as store:
            for n, account in enumerate(connected, start=1):
                store.upsert_account(
                    project_id=f"project-{n}",
                    stripe_account_id=account,
                    livemode=False,
                    scope="read_only",
                )
        log = root / "sync.log"
        request_counts(base)
        since = int(time.time())
        first = sync(env, log)
        first_requests = sum(request_counts(base).values())
        print(f"first sync: {first:.1f} s, {first_requests} requests", flush=True)
        rss_first = peak_rss_mb()
        noop = sync(env, log)
        noop_requests = sum(request_counts(base).values())
        print(f"no-op sync: {noop:.1f} s, {noop_requests} requests", flush=True)
        changed_accounts = connected[: args.changed]
        pay(base, changed_accounts)
        request_counts(base)
        changed = sync(env, log)
        changed_requests = sum(request_counts(base).values())
        print(f"changed sync: {changed:.1f} s, {changed_requests} requests", flush=True)
        floor = min(baseline(base, accounts, platform, since) for _ in range(3))
        print(f"baseline: {floor:.2f} s", flush=True)
        expected = {a: args.charges for a in accounts}
        for account in changed_accounts:
            expected[account] += 1
        exact, detail = check_exact(data / "warehouse.duckdb", expected)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    n = len(accounts)
    result = {
        "accounts": n,
        "charges": args.charges,
        "first_sync_s": round(first, 1),
        "noop_sync_s": round(noop, 1),
        "changed_sync_s": round(changed, 1),
        "changed_accounts": len(changed_accounts),
        "noop_baseline_s": round(floor, 2),
        "noop_over_baseline": round(noop / floor, 1),
        "per_account_noop_ms": round(1000 * noop / n, 1),
        "per_account_first_ms": round(1000 * first / n, 1),
        "requests_per_account": {
            "first": round(first_requests / n, 1),
            "noop": round(noop_requests / n, 1),
            "changed": round(changed_requests / n, 1),
        },
        # The emulator is a child too, waited for only now: its RSS is not in these figures.
        "peak_rss_mb": max(rss_first, peak_rss_mb()),
        "exact": exact,
        "exact_detail": detail,
        "bytecode_cache": bool(args.pycache_prefix),
        "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
    }
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "_serve"])
    parser.add_argument("--accounts", type=int, default=1000, help="accounts, platform included")
    parser.add_argument("--charges", type=int, default=20, help="generated charges per account")
    parser.add_argument("--changed", type=int, default=5, help="accounts that get a new payment")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--rate-limit", type=float, default=0, help="STRIPE_RATE_LIMIT (0: Stripe's)"
    )
    parser.add_argument("--pycache-prefix", default=None, help="PYTHONPYCACHEPREFIX for children")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    if args.mode == "_serve":
        return serve_emulator(args)
    result = run(args)
    print(json.dumps(result))
    return 0 if result["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
