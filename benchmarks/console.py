"""How fast the console's Transactions page answers on a large warehouse.

Builds a warehouse whose `marts.transactions` holds `--rows` rows (default 1,000,000: four
currencies including JPY, three sources, ten projects, a year of days), publishes it with the
real `publish_marts`, serves it with `stripe-pipeline listener` in its own process, signs in,
and times whole page loads (HTTP, the page's three queries: the 50 rows, the per-currency totals
of the filtered rows and the filter choices; rendering) for a few views: the default page, a
filtered one, one sorted by net, a deep page, and the count the page polls.

Baseline, in the same run: the page's bare row query (`select ... order by created_at desc
limit 50` on a read-only connection to the same file, opened per query as the console does)
in this process, so `ratio` is the whole page against the one query it cannot do without.

    .venv/bin/python benchmarks/console.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/console.py --rows 100000 --repeat 10

The last line printed is one JSON object; `page_p95_ms` of every view is under 300 ms when
`within_budget` is true.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stripe_pipeline.processes import free_port  # noqa: E402
from stripe_pipeline.publish import SERVING_DB, publish_marts  # noqa: E402
from webhook_listener.console.transactions_query import ROW_COLUMNS  # noqa: E402
from webhook_listener.process import ListenerProcess, listener_env  # noqa: E402

BUDGET_MS = 300.0
TOKEN = "op_bench_" + "e5" * 16
VIEWS = {
    "default": "/console/transactions",
    "filtered": "/console/transactions?currency=usd&type=refund&from=2026-03-01",
    "sorted_by_net": "/console/transactions?sort=net&dir=asc",
    "page_200": "/console/transactions?page=200",
    "new_rows_count": "/console/transactions/count?currency=jpy",
}


def build_warehouse(path: Path, rows: int) -> None:
    """marts.transactions with the mart's columns and a plausible spread of values."""
    with duckdb.connect(str(path)) as db:
        db.execute("create schema marts")
        db.execute(
            """
            create table marts.transactions as
            with base as (
                select i,
                    (hash(i) % 1000003)::bigint as h,
                    ['usd', 'usd', 'usd', 'eur', 'gbp', 'jpy'][1 + (hash(i) % 6)::bigint]
                        as currency,
                    case when hash(i * 7) % 20 = 0 then 'manual'
                         when hash(i * 7) % 20 = 1 then 'invoice' else 'stripe' end as source,
                    ['charge', 'charge', 'charge', 'charge', 'charge', 'charge', 'charge',
                     'refund', 'refund', 'dispute', 'adjustment'][1 + (hash(i * 3) % 11)::bigint]
                        as type
                from range(?) as t(i)
            )
            select
                source || ':txn_' || i as transaction_id,
                'project-' || (h % 10) as project_id,
                source,
                'txn_' || i as external_id,
                type,
                case type when 'dispute' then 'lost' when 'refund' then 'succeeded'
                     else (case when h % 25 = 0 then 'failed' else 'succeeded' end) end as status,
                (case when type in ('refund', 'dispute') then -1 else 1 end)
                    * (100 + (h % 50000))::bigint as amount,
                (30 + (h % 400))::bigint as fee_amount,
                (case when type in ('refund', 'dispute') then -1 else 1 end)
                    * (100 + (h % 50000))::bigint - (30 + (h % 400))::bigint as net_amount,
                currency,
                null::bigint as presentment_amount,
                null::varchar as presentment_currency,
                null::double as exchange_rate,
                'product-' || (h % 40) as product_id,
                'price-' || (h % 80) as price_id,
                case when h % 3 = 0 then 'sku-' || (h % 120) end as sku_id,
                ['mapped', 'mapped', 'mapped', 'inferred', 'unmapped', 'ambiguous'][1 + h % 6]
                    as mapping_status,
                'mapped by app_price_id in the payment metadata' as mapping_note,
                case when source = 'stripe' then 'acct_' || (h % 10) end as stripe_account_id,
                'ch_' || i as charge_id,
                'ch_' || i as source_object_id,
                'txn_' || i as balance_transaction_id,
                type as balance_transaction_type,
                type as reporting_category,
                timestamp '2026-01-01' + to_seconds((i * 31536000 // ?)::bigint) as created_at
            from base
            """,
            [rows, rows],
        )


def sign_in(client: httpx.Client) -> None:
    form = client.get("/console/login")
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    answer = client.post("/console/login", data={"token": TOKEN, "login_csrf": login_csrf})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def bare_query_ms(serving_db: Path, repeat: int) -> list[float]:
    sql = (
        f"select {', '.join(ROW_COLUMNS)} from marts.transactions "
        "order by created_at desc, transaction_id desc limit 50"
    )
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        with duckdb.connect(str(serving_db), read_only=True) as con:
            con.execute(sql).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed loads per view")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build_warehouse(root / "warehouse.duckdb", args.rows)
        publish_marts(root / "warehouse.duckdb", root / "serving")
        print(
            f"built and published {args.rows:,} transactions in {time.perf_counter() - started:.1f} s"
        )
        serving_db = root / "serving" / SERVING_DB

        env = listener_env(
            f"sqlite:///{root / 'ops.sqlite'}",
            "whsec_bench_" + "f6" * 12,
            OPERATOR_TOKEN=TOKEN,
            SERVING_DIR=str(root / "serving"),
            WAREHOUSE_PATH=str(root / "warehouse.duckdb"),
        )
        listener = ListenerProcess(env, free_port(), log_level="warning")
        listener.start(timeout=60)
        try:
            results: dict[str, dict[str, float]] = {}
            with httpx.Client(base_url=listener.base_url, timeout=60) as client:
                sign_in(client)
                for name, path in VIEWS.items():
                    for _ in range(2):  # warm: the OS file cache and the first connection
                        client.get(path).raise_for_status()
                    samples = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        answer = client.get(path)
                        samples.append((time.perf_counter() - t0) * 1000)
                        answer.raise_for_status()
                    if (
                        name != "new_rows_count"
                        and '<table class="transactions"' not in answer.text
                    ):
                        raise RuntimeError(f"{name}: the page shows no transactions table")
                    results[name] = percentiles(samples)
                    print(f"  {name:<16} {results[name]}", flush=True)
        finally:
            listener.stop()
        bare_query_ms(serving_db, 2)
        baseline = percentiles(bare_query_ms(serving_db, args.repeat))
        print(f"  bare row query   {baseline}")

    default = results["default"]
    worst_p95 = max(r["p95_ms"] for r in results.values())
    summary = {
        "benchmark": "console_transactions_page",
        "rows": args.rows,
        "repeat": args.repeat,
        "views": results,
        "baseline_bare_query": baseline,
        "ratio_default_page_to_bare_query_p50": round(default["p50_ms"] / baseline["p50_ms"], 2),
        "worst_page_p95_ms": worst_p95,
        "budget_ms": BUDGET_MS,
        "within_budget": worst_p95 < BUDGET_MS,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
