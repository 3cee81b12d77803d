"""Webhook fast path: seconds from a payment made at Stripe to its row in marts.transactions.

    .venv/bin/python benchmarks/webhook_to_mart.py                     # 20 payments, one every 2 s
    .venv/bin/python benchmarks/webhook_to_mart.py --payments 40 --interval 1
    .venv/bin/python benchmarks/webhook_to_mart.py --pycache-prefix /tmp/pycache   # warm bytecode
    .venv/bin/python benchmarks/webhook_to_mart.py --accounts 1000 --charges 20 \
        --payments 900 --interval 0.07      # Connect fan-out over 1,000 accounts

The whole production path, as separate processes on this machine: the Stripe emulator
(`stripe-pipeline emulator`, delivering signed webhooks to the listener), the webhook listener
(`stripe-pipeline listener`), and `dagster-daemon run -w workspace.yaml` on a temporary
DAGSTER_HOME holding the project's dagster.yaml (the `warehouse` pool of 1, the run queue). The
daemon's accounts sensor adds the platform account and runs its first backfill; then N payments
are made through the stripe SDK (`payment_intents.create(confirm=True, payment_method=
"pm_card_visa")`), one every `--interval` seconds, and the published serving file (read-only, a
fresh connection per poll, never the working warehouse) is polled until each charge's row is
in marts.transactions.

With `--accounts N` (N > 1) the emulator serves the platform and N-1 connected accounts, all in
the ops store before the daemon starts (Connect on): the accounts sensor adds N partitions and
runs one first backfill over them, and the payments go to the connected accounts in turn. A
confirmed payment sends several webhook events; `events_per_s` reports how many the listener
received per second while the payments were made (tune `--interval` to the rate wanted).

The LAST line printed is one JSON object:

    payments, p50_s, p95_s, max_s     latency from just before the API call to the row appearing
    runs                              webhook runs, and their mean queued (sensor request to
                                      start) and running (start to end) seconds
    baseline_dbt_s                    one bare `dbt build` of the models the webhook job builds
                                      (same warehouse, after the daemon stopped)
    p50_over_baseline                 p50_s / baseline_dbt_s

Figures on the 2-core development machine (shared with other jobs, load average 4 to 6), 20
payments one every 2 s, the project's dagster.yaml, no bytecode cache:

    before (every webhook event → a stripe_sync_job run: all ten resources listed and replayed,
    app and ops loaders, the full dbt build with every test, publish): one run alone took
    30 to 37 s in process, dbt 19 to 26 s of it; about 2 minutes from payment to row
    after (stripe_webhook_job), 3 runs of this benchmark: p50 26 to 39 s, p95 36 to 55 s, max
    57 s, 2 or 3 webhook runs for the 20 payments; with --pycache-prefix: p50 17 s, p95 24 s.
    A run alone: 12 s in process (dbt 10 s of it), 16 to 26 s under the daemon

Under the daemon one run is: the sensor tick (every 5 s), the queue (dequeued every 5 s), the
run worker loading the code location (3 s with bytecode, 13 to 18 s without), landing the inbox
(1 to 3 s), the ops tables (1 s), dagster-dbt preparing its invocation (3 to 6 s), dbt (4 s with
bytecode, 7 to 14 s without), publish (under 1 s). A run requested while another holds the
warehouse slot waits in the queue for it.

This machine sets PYTHONDONTWRITEBYTECODE=1, so every process compiles the libraries it imports
(about 3 s for a Dagster run worker, 2 s for dbt); `--pycache-prefix DIR` lets them cache
bytecode there instead, as any deployment with a compiled virtualenv does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.webhook_stack import BIN, WebhookStack, webhook_stack  # noqa: E402


def serving_charges(serving_path: Path, charge_ids: list[str]) -> set[str]:
    """Charges with a `charge` row in the published marts.transactions (read-only, fresh
    connection: publishing renames a new file into place)."""
    import duckdb

    if not charge_ids or not serving_path.exists():
        return set()
    try:
        with duckdb.connect(str(serving_path), read_only=True) as con:
            rows = con.execute(
                "select charge_id from marts.transactions where type = 'charge' and charge_id "
                "in (select unnest(?))",
                [charge_ids],
            ).fetchall()
    except duckdb.Error:
        return set()  # caught between a rename and the open; the next poll sees it
    return {r[0] for r in rows}


def webhook_dbt_models() -> list[str]:
    """The dbt models stripe_webhook_job builds, as dbt selectors."""
    from stripe_pipeline.definitions import build_definitions
    from stripe_pipeline.defs.automation.jobs import STRIPE_WEBHOOK_JOB

    job = build_definitions().resolve_job_def(STRIPE_WEBHOOK_JOB)
    keys = job.asset_layer.selected_asset_keys
    return sorted(k.path[-1] for k in keys if k.path[0] in ("staging", "intermediate", "marts"))


def bare_dbt_build(warehouse: Path, models: list[str]) -> float:
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse), "DBT_TARGET": "duckdb"}
    started = time.monotonic()
    subprocess.run(
        [
            str(BIN / "dbt"), "build", "--quiet", "--profiles-dir", ".",
            "--target-path", str(warehouse.parent / "dbt_target"),
            "--exclude-resource-type", "unit_test", "--select", *models,
        ],
        cwd=REPO_ROOT / "dbt_project", env=env, check=True,
    )  # fmt: skip
    return time.monotonic() - started


def _webhook_events_since(stack: WebhookStack, since: float) -> int:
    from datetime import UTC, datetime

    import sqlalchemy as sa

    engine = sa.create_engine(stack.env["OPS_DATABASE_URL"])
    try:
        with engine.connect() as con:
            return con.execute(
                sa.text("select count(*) from stripe_webhook_events where received_at >= :t"),
                {"t": datetime.fromtimestamp(since, UTC).replace(tzinfo=None)},
            ).scalar_one()
    finally:
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import dagster as dg

    root = Path(tempfile.mkdtemp(prefix="webhook_to_mart_"))
    print(f"working in {root}", flush=True)
    latencies: dict[str, float] = {}
    made: dict[str, float] = {}
    with webhook_stack(
        root, charges=args.charges, accounts=args.accounts, pycache_prefix=args.pycache_prefix
    ) as stack:
        started = time.monotonic()
        stack.wait_for_run("accounts", timeout=args.timeout)
        stack.wait_idle(timeout=args.timeout)
        print(f"first backfill done in {time.monotonic() - started:.0f} s", flush=True)
        client = stack.client()
        lock = threading.Lock()
        errors: list[BaseException] = []

        # Spread over every account: the platform's own, or each connected one in turn.
        payers: list[str | None] = list(stack.connected) or [None]

        def pay() -> None:
            try:
                for i in range(args.payments):
                    due = t0 + i * args.interval
                    time.sleep(max(0.0, due - time.monotonic()))
                    before = time.monotonic()
                    account = payers[i % len(payers)]
                    intent = client.v1.payment_intents.create(
                        {
                            "amount": 1000 + i,
                            "currency": "usd",
                            "confirm": True,
                            "payment_method": "pm_card_visa",
                            "metadata": {"benchmark": "webhook_to_mart"},
                        },
                        {"stripe_account": account} if account else {},
                    )
                    with lock:
                        made[intent.latest_charge] = before
            except BaseException as exc:  # reported by the main loop
                errors.append(exc)

        t0 = time.monotonic()
        t0_wall = time.time()
        payer = threading.Thread(target=pay, daemon=True)
        payer.start()
        deadline = t0 + args.payments * args.interval + args.timeout
        while time.monotonic() < deadline:
            if errors:
                raise errors[0]
            stack.check_alive()
            with lock:
                waiting = [c for c in made if c not in latencies]
            for charge in serving_charges(stack.serving_path, waiting):
                latencies[charge] = time.monotonic() - made[charge]
                print(f"  {charge}: {latencies[charge]:.1f} s", flush=True)
            if len(latencies) == args.payments:
                break
            time.sleep(0.25)
        payer.join(timeout=5)
        paying_s = args.payments * args.interval
        events = _webhook_events_since(stack, t0_wall)
        missing = args.payments - len(latencies)
        stack.wait_idle(timeout=args.timeout)
        with stack.instance() as instance:
            runs = [
                instance.get_run_record_by_id(r.run_id)
                for r in instance.get_runs(filters=dg.RunsFilter(job_name="stripe_webhook_job"))
            ]
        stack.stop_daemon()
        models = webhook_dbt_models()
        baseline = min(bare_dbt_build(stack.warehouse_path, models) for _ in range(2))

    queued = [r.start_time - r.create_timestamp.timestamp() for r in runs if r.start_time]
    running = [r.end_time - r.start_time for r in runs if r.start_time and r.end_time]
    values = list(latencies.values())
    p50 = statistics.median(values) if values else None
    return {
        "accounts": args.accounts,
        "payments": args.payments,
        "interval_s": args.interval,
        # Webhook events the listener received while the payments were made, per second.
        "events_per_s": round(events / paying_s, 1) if paying_s else None,
        "arrived": len(values),
        "missing": missing,
        "p50_s": round(p50, 1) if p50 is not None else None,
        "p95_s": round(percentile(values, 0.95), 1) if values else None,
        "max_s": round(max(values), 1) if values else None,
        "runs": {
            "count": len(runs),
            "failed": sum(1 for r in runs if r.dagster_run.status.value == "FAILURE"),
            "mean_queued_s": round(statistics.mean(queued), 1) if queued else None,
            "mean_running_s": round(statistics.mean(running), 1) if running else None,
        },
        "baseline_dbt_s": round(baseline, 1),
        "p50_over_baseline": round(p50 / baseline, 2) if p50 is not None else None,
        "bytecode_cache": bool(args.pycache_prefix),
        "dagster_yaml": args.dagster_yaml or "dagster.yaml",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between payments")
    parser.add_argument("--charges", type=int, default=300, help="generated history per account")
    parser.add_argument(
        "--accounts",
        type=int,
        default=1,
        help="accounts, platform included (more than 1: Connect on, payments spread over them)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for any stage")
    parser.add_argument(
        "--pycache-prefix",
        default=None,
        help="let the processes cache bytecode in this folder (PYTHONPYCACHEPREFIX)",
    )
    parser.add_argument(
        "--dagster-yaml",
        default=None,
        help="an instance configuration to use instead of the project's dagster.yaml",
    )
    result = run(parser.parse_args())
    print(json.dumps(result))
    return 0 if result["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
