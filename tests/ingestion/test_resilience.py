"""Failures on the way (429s, 5xx, dropped connections, a kill -9) cost time, never rows: the
warehouse ends with exactly Stripe's objects, each once."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stripe_pipeline.stripe_source import RESOURCE_NAMES
from tests.fixtures.warehouse import stripe_totals

ROOT = Path(__file__).resolve().parents[2]


def faults_off(emulator) -> None:
    request = urllib.request.Request(emulator.url("/_emulator/faults"), method="DELETE")
    urllib.request.urlopen(request, timeout=10).read()


def assert_exact(warehouse, emulator, account: str) -> None:
    expected = stripe_totals(emulator, account)
    for table in RESOURCE_NAMES:
        landed = warehouse.ids(table, account)
        assert len(landed) == len(set(landed)), f"{table}: duplicate rows"
        if table == "events":
            # Events older than 30 days stop being listed; only those may be extra.
            assert expected[table] <= set(landed), f"{table}: rows missing"
        else:
            assert set(landed) == expected[table], f"{table}: rows missing or extra"


def test_429s_server_errors_and_dropped_connections_are_retried_and_counts_stay_exact(
    make_emulator, make_warehouse
):
    emulator = make_emulator(
        charges=400,
        accounts=0,
        faults={"error_rate": 0.1, "lock_timeout_rate": 0.1, "drop_rate": 0.05, "seed": 11},
    )
    warehouse = make_warehouse(emulator)

    result = warehouse.sync()

    totals = result.stats.totals()
    assert totals["http_429"] > 0
    assert totals["retries"] > totals["http_429"], "5xx and dropped connections were retried"
    faults_off(emulator)
    assert_exact(warehouse, emulator, emulator.platform_account_id)


def test_backfill_under_the_rate_limit_stays_under_it_without_429s(make_emulator, make_warehouse):
    emulator = make_emulator(charges=1500, accounts=0, faults={"rate_limit": 25})
    warehouse = make_warehouse(emulator, rate_limit=25)

    result = warehouse.sync(resources=["charges", "balance_transactions", "payment_intents"])

    stats = [result.resources[name] for name in ("charges", "balance_transactions")]
    requests = sum(s.requests for s in stats)
    seconds = sum(s.seconds for s in stats)
    assert result.stats.totals()["http_429"] == 0
    # Never above the limit (plus the one-request burst); how much of it the backfill uses is a
    # speed figure, measured by benchmarks/backfill.py --rate-limit 25, not asserted here.
    assert requests / seconds <= 25 * 1.05, f"{requests} requests in {seconds:.1f}s"


# Backfills in a child process until a SIGKILL, then again to the end: about a minute.
@pytest.mark.slow
def test_backfill_killed_with_sigkill_resumes_from_its_completed_slices_and_ends_exact(
    make_emulator, make_warehouse
):
    emulator = make_emulator(charges=2000, accounts=0)
    # A pipeline rate of its own so that the backfill takes several seconds to kill into, and
    # small runs so that several commit before each kill.
    warehouse = make_warehouse(emulator, rate_limit=80)
    settings = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in dataclasses.asdict(warehouse.settings).items()
    }
    config = json.dumps({"settings": settings, "account_id": None, "pages": 4})
    account = emulator.platform_account_id
    total_charges = sum(
        1 for _ in emulator.client().v1.charges.list({"limit": 100}).auto_paging_iter()
    )

    loaded = warehouse.root / "dlt_pipelines" / f"stripe_{account}" / "load" / "loaded"

    def loads_committed() -> int:
        return len(list(loaded.iterdir())) if loaded.exists() else 0

    kills = 0
    # Kill each child a moment after one of its runs committed: mid-extract or mid-load of the
    # next one, never before anything was saved (which would prove nothing).
    for extra in (0.7, 0.2):
        before = loads_committed()
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.ingestion.sync_child", config],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while loads_committed() == before and child.poll() is None:
            assert time.monotonic() < deadline, "the child committed nothing in 60 s"
            time.sleep(0.05)
        time.sleep(extra)
        if child.poll() is None:
            child.kill()
            kills += 1
        child.wait()
    assert kills == 2, "the backfill finished before it could be killed"
    landed_before = len(warehouse.ids("charges", account))
    assert 0 < landed_before < total_charges, "no run committed before the kills"

    result = warehouse.sync(max_pages_per_run=20)

    assert result.complete
    assert_exact(warehouse, emulator, account)
