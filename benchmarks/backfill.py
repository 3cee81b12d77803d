"""Backfill throughput, memory and exactness of the Stripe source against the emulator.

    .venv/bin/python benchmarks/backfill.py --charges 100000
    .venv/bin/python benchmarks/backfill.py --charges 100000 --rate-limit 25
    .venv/bin/python benchmarks/backfill.py --charges 200000 --faults 0.1 --kill-after 5

The emulator runs in a subprocess (so the pipeline's peak RSS is its own and the two use both
cores). The pipeline backfills charges and balance transactions of each account into a fresh
DuckDB warehouse (charges are listed without `expand[]=data.balance_transaction`, as in
production: the balance transactions land from their own list); then the same endpoints are
paged again, over the same `created` range, with no processing at all, as the baseline. The
LAST line printed is one JSON object:

    rows, seconds, rows_per_s       landed rows (charges + balance transactions), and the
                                    backfill's wall time (sync_account, from its start to the
                                    last load; with --kill-after, both attempts' wall time)
    fetch_only_rows_per_s, ratio    the baseline and rows_per_s / baseline
    peak_rss_mb                     the pipeline process's peak resident memory
    requests, retries, http_429     as counted by the pipeline's retry policy
    exact                           landed rows equal the baseline's objects, no duplicate id

`--faults F` makes the emulator fail a fraction F of requests (429 lock timeouts, 500/503,
dropped connections, a third each); `--kill-after S` runs the backfill in a child process,
kills it with SIGKILL after S seconds and runs it again to completion.

Measured with `--charges 1000000` (2 cores shared with other work, so figures are noisy: load
average at the start -> end of each run). "before": charges expanded their balance transaction,
requests' per-request environment/netrc lookups and 10 KB body reads. "after": no expansion, one
keep-alive session per account, bodies read whole. Each pair ran back to back:

    before  load 3.4 -> 3.2   165.7 s  12,423 rows/s  6,036 charges/s  fetch-only 29,657  ratio 0.419
                              extract 136.6 s, load 28.2 s, peak RSS 415 MB, exact
    after   load 3.2 -> 3.0    96.7 s  21,279 rows/s 10,338 charges/s  fetch-only 41,932  ratio 0.507
                              extract 78.3 s, load 17.8 s, peak RSS 409 MB (*)
    after   load 2.7 -> 5.0   101.8 s  20,210 rows/s  9,819 charges/s  fetch-only 30,347  ratio 0.666
                              extract 84.2 s, load 17.0 s, peak RSS 410 MB, exact
    before  load 4.4 -> 5.2   133.5 s  15,421 rows/s  7,492 charges/s  fetch-only 27,273  ratio 0.565
                              extract 110.4 s, load 22.3 s, peak RSS 415 MB (*)
    after   load 5.2 -> 2.9    85.4 s  24,112 rows/s 11,715 charges/s  fetch-only 52,086  ratio 0.463
                              extract 69.5 s, load 15.3 s, peak RSS 415 MB, exact

    2,058,225-2,058,227 rows each (the emulator adds a dispute's balance transaction as its
    clock passes). (*) exact=false only because the baseline then listed up to a later second
    (its own start, or the backfill's end): it counted the one balance transaction created
    after the backfill had listed that range.
    The baseline now lists the range the backfill listed (its state's cursors).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESOURCES = ("charges", "balance_transactions")
API_KEY = "sk_test_emulator"


# --------------------------------------------------------------------------- emulator process


def serve_emulator(args: argparse.Namespace) -> int:
    """Child mode: the emulator with the fault middleware, on the given port."""
    import uvicorn

    from stripe_emulator.app import create_app
    from stripe_emulator.store import Store, StoreOptions

    store = Store.generate(
        StoreOptions(seed=args.seed, accounts=max(0, args.accounts - 1), charges=args.charges)
    )
    app: Any = create_app(store)
    try:
        from stripe_emulator import faults

        app = faults.wrap(app)  # serves POST/PUT /_emulator/faults
    except ImportError:  # an emulator without fault injection still serves the baseline
        pass
    print(json.dumps({"platform": store.platform_id, "connected": store.connected_ids()}))
    sys.stdout.flush()
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        http="httptools", loop="asyncio",
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
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/faults", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # answering, just not that route
        except OSError:
            time.sleep(0.1)
    return proc, info


def set_faults(port: int, config: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_emulator/faults",
        data=json.dumps(config).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


# --------------------------------------------------------------------------- pipeline


def make_settings(base_url: str, data_dir: Path, rate_limit: float):
    from stripe_pipeline.settings import Settings

    return Settings(
        stripe_client_secret=API_KEY,
        api_base=base_url,
        data_dir=data_dir,
        warehouse_path=data_dir / "warehouse.duckdb",
        # No limit of our own beyond what the emulator enforces (or a very high one).
        rate_limit=rate_limit or 100000.0,
    )


def sync_child(args: argparse.Namespace) -> int:
    """Child mode: one backfill of every account; prints its stats as JSON."""
    from stripe_pipeline.stripe_source import sync_account

    settings = make_settings(args.base_url, Path(args.data_dir), args.rate_limit)
    out = []
    for account in json.loads(args.account_ids):
        result = sync_account(settings, account, resources=RESOURCES)
        out.append(result.as_dict())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"results": out, "peak_rss_mb": round(peak, 1)}))
    return 0


def run_sync_child(args, base_url, data_dir, accounts, kill_after=None) -> dict | None:
    cmd = [sys.executable, __file__, "_sync", "--base-url", base_url, "--data-dir",
           str(data_dir), "--account-ids", json.dumps(accounts), "--rate-limit",
           str(args.rate_limit)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return None
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the backfill child failed with exit code {proc.returncode}")
    return json.loads(stdout.strip().splitlines()[-1])


def listed_until(data_dir: Path, results: list[dict], finished_at: int) -> list[dict[str, int]]:
    """Per account and resource, the end (exclusive) of the `created` range the backfill listed.

    The emulator's data moves with the clock (a dispute that closes adds its balance transaction
    then): what appeared after a resource's listing started is the next incremental run's, not
    a lost row, so the baseline lists the same range. Read from the pipeline's state (the
    resource's `cursor`); the backfill's end when it cannot be read."""
    out = []
    for result in results:
        state_file = data_dir / "dlt_pipelines" / f"stripe_{result['account_id']}" / "state.json"
        try:
            resources = json.loads(state_file.read_text())["sources"]["stripe"]["resources"]
        except (OSError, ValueError, KeyError):
            resources = {}
        out.append(
            {
                name: int(resources.get(name, {}).get("cursor", finished_at - 1)) + 1
                for name in RESOURCES
            }
        )
    return out


def fetch_only(
    base_url: str, accounts: list[str | None], rate_limit: float, until: list[dict[str, int]]
) -> tuple[int, float]:
    """Page the same endpoints with the same threads and bucket, doing nothing with the rows
    (objects created before `until[account][resource]`, as the backfill listed)."""
    import pyarrow as pa

    from stripe_pipeline.stripe_source.helpers import SliceFetcher, StripeHttp, SyncStats
    from stripe_pipeline.stripe_source.settings import RESOURCES as SPECS
    from stripe_pipeline.token_bucket import TokenBucket

    total = 0
    started = time.monotonic()
    for account, account_until in zip(accounts, until, strict=True):
        bucket = TokenBucket(rate_limit or 100000.0)
        http = StripeHttp(API_KEY, base_url, account, bucket, SyncStats(), account or "platform")
        for name in RESOURCES:
            spec = SPECS[name]
            params = {"expand": list(spec.expand)} if spec.expand else {}
            fetcher = SliceFetcher(
                http, spec.path, params, name, lambda objs: pa.table({"n": [len(objs)]})
            )
            for page in fetcher.run([(0, account_until[name])]):
                total += page.table.column("n")[0].as_py()
    return total, time.monotonic() - started


def landed(warehouse: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = distinct = 0
        for table in RESOURCES:
            n, d = con.execute(
                f"select count(*), count(distinct (account_id, id)) from stripe.{table}"
            ).fetchone()
            rows += n
            distinct += d
        return rows, distinct
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "_serve", "_sync"])
    parser.add_argument("--charges", type=int, default=100000, help="charges per account")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="emulator's req/s limit")
    parser.add_argument("--faults", type=float, default=0.0, help="fraction of failed requests")
    parser.add_argument("--accounts", type=int, default=1, help="accounts (platform first)")
    parser.add_argument("--kill-after", type=float, default=None, help="SIGKILL after seconds")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--base-url", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--account-ids", default="[]")
    args = parser.parse_args(argv)
    if args.mode == "_serve":
        return serve_emulator(args)
    if args.mode == "_sync":
        return sync_child(args)

    from stripe_emulator.testing import free_port

    port = free_port()
    emulator, info = start_emulator(args, port)
    base_url = f"http://127.0.0.1:{port}"
    data_dir = Path(tempfile.mkdtemp(prefix="stripe-backfill-"))
    # The platform syncs without a Stripe-Account header; connected accounts with theirs.
    accounts: list[str | None] = [None, *info["connected"]][: args.accounts]
    try:
        faults: dict[str, Any] = {"seed": args.seed}
        if args.rate_limit:
            faults["rate_limit"] = args.rate_limit
        if args.faults:
            faults.update(
                error_rate=args.faults / 3, lock_timeout_rate=args.faults / 3,
                drop_rate=args.faults / 3,
            )  # fmt: skip
        set_faults(port, faults)

        kills = 0
        started = time.monotonic()
        if (
            args.kill_after is not None
            and run_sync_child(args, base_url, data_dir, accounts, args.kill_after) is None
        ):
            kills += 1
        report = run_sync_child(args, base_url, data_dir, accounts)
        wall_seconds = time.monotonic() - started
        finished_at = int(time.time())
        assert report is not None
        # The backfill's own time: the final (resumed) sync of every account, without the
        # interpreter start-up; with --kill-after, the killed attempt's work is not counted.
        seconds = sum(r["seconds"] for r in report["results"])
        if kills:
            # The killed attempt did part of the work: count both, start-up included.
            seconds = wall_seconds
        phases: dict[str, float] = {}
        for result in report["results"]:
            for step, value in result.get("phase_seconds", {}).items():
                phases[step] = round(phases.get(step, 0.0) + value, 2)
        rows, distinct = landed(data_dir / "warehouse.duckdb")

        baseline_rows, baseline_seconds = fetch_only(
            base_url,
            accounts,
            args.rate_limit,
            listed_until(data_dir, report["results"], finished_at),
        )
        totals = {"requests": 0, "retries": 0, "http_429": 0}
        for result in report["results"]:
            for key in totals:
                totals[key] += int(result["totals"][key])
        rows_per_s = rows / seconds
        baseline_rate = baseline_rows / baseline_seconds
        summary = {
            "charges": args.charges * len(accounts),
            "accounts": len(accounts),
            "rate_limit": args.rate_limit or None,
            "faults": args.faults,
            "kills": kills,
            "wall_seconds_with_process_start": round(wall_seconds, 2),
            "phase_seconds": phases,
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows_per_s),
            "charges_per_s": round(args.charges * len(accounts) / seconds),
            "fetch_only_rows": baseline_rows,
            "fetch_only_rows_per_s": round(baseline_rate),
            "ratio": round(rows_per_s / baseline_rate, 3),
            "objects_per_request": round(rows / max(1, totals["requests"]), 1),
            "peak_rss_mb": report["peak_rss_mb"],
            **totals,
            "exact": rows == baseline_rows == distinct,
        }
        print(json.dumps(summary))
        return 0 if summary["exact"] else 1
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
