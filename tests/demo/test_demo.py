"""`stripe-pipeline demo`, the one command a newcomer runs: real subprocesses, a real OAuth flow,
real Dagster runs, published marts; then a rerun that is incremental while a BI tool reads."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from stripe_pipeline.ops_store import OpsStore
from tests.fixtures.browser import REPO_ROOT, DemoRun, demo_command, port_answers, run_demo

pytestmark = pytest.mark.slow


BI_READER = """
import json, sys, time, os, duckdb
path, stop = sys.argv[1], sys.argv[2]
while not os.path.exists(stop):
    started = time.perf_counter()
    try:
        with duckdb.connect(path, read_only=True) as con:
            counts = [con.execute(f"select count(*) from marts.{t}").fetchone()[0]
                      for t in ("transactions", "analytics_daily")]
        line = {"counts": counts}
    except duckdb.Error as exc:
        line = {"error": str(exc)}
    line["seconds"] = time.perf_counter() - started
    print(json.dumps(line), flush=True)
    time.sleep(0.05)
"""


def _secrets(run: DemoRun) -> list[str]:
    env = run.env
    return [env["OPERATOR_TOKEN"], env["STRIPE_WEBHOOK_SECRET"]]


def _serving_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            t for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]  # fmt: skip
        return {t: con.execute(f'select count(*) from marts."{t}"').fetchone()[0] for t in tables}


def test_first_run_connects_two_accounts_with_oauth_and_publishes_every_mart(
    demo_run: DemoRun,
) -> None:
    out = demo_run.stdout
    assert "first run:" in out
    state = json.loads((demo_run.data_dir / "demo.json").read_text())
    with OpsStore.open(demo_run.env["OPS_DATABASE_URL"]) as store:
        connected = {a.project_id: a.stripe_account_id for a in store.connected_accounts()}
        # Came through the listener's callback: the OAuth state was created and consumed.
        assert all(a.scope == "read_only" for a in store.connected_accounts())
    assert connected == state["accounts"] and set(connected) == {"project-1", "project-2"}

    serving = demo_run.data_dir / "serving" / "stripe.duckdb"
    counts = _serving_counts(serving)
    assert {"transactions", "analytics_daily", "stripe_product_map", "connector_health"} <= set(
        counts
    )
    with duckdb.connect(str(serving), read_only=True) as con:
        per_account = dict(
            con.execute(
                "select stripe_account_id, count(*) from marts.transactions where source = 'stripe' group by 1"
            ).fetchall()
        )
        health = dict(
            con.execute("select stripe_account_id, status from marts.connector_health").fetchall()
        )
    assert set(connected.values()) < set(per_account) and len(per_account) == 3
    assert all(n > 0 for n in per_account.values())
    assert set(health) == set(per_account)
    assert (demo_run.data_dir / "serving" / "parquet" / "transactions.parquet").is_file()

    # The summary: accounts, rows per mart, totals per currency, files, the UI command.
    for account in per_account:
        assert account in out
    assert re.search(rf"marts\.transactions\s+{counts['transactions']}\b", out)
    assert re.search(
        r"^\s+(USD|EUR|GBP)\s+[\d,]+\.\d\d\s+[\d,]+\.\d\d\s+[\d,]+\.\d\d\s+\d+$", out, re.M
    )
    assert str(serving) in out or "serving/stripe.duckdb" in out
    assert "dagster dev -w workspace.yaml" in out and "demo.env" in out
    # A line per step, with elapsed seconds.
    assert re.search(r"^\[\s*\d+\.\d+s\] connecting two accounts through Connect OAuth", out, re.M)
    assert re.search(r"^\[\s*\d+\.\d+s\] backfilling every account", out, re.M)


def test_the_demo_prints_no_secret_and_keeps_them_in_a_private_file(demo_run: DemoRun) -> None:
    env_file = demo_run.data_dir / "demo.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    logs = [p.read_text(errors="replace") for p in (demo_run.data_dir / "logs").glob("*.log")]
    for secret in _secrets(demo_run):
        assert len(secret) >= 20
        assert secret not in demo_run.stdout and secret not in demo_run.stderr
        for log in logs:
            assert secret not in log


def test_the_demo_leaves_no_emulator_or_listener_running(demo_run: DemoRun) -> None:
    env = demo_run.env
    assert not port_answers(env["LISTENER_PUBLIC_URL"] + "/healthz")
    assert not port_answers(env["STRIPE_API_BASE"] + "/v1/account")


def test_a_rerun_is_incremental_and_never_blocks_or_tears_a_bi_readers_view(
    demo_run: DemoRun,
) -> None:
    serving = demo_run.data_dir / "serving" / "stripe.duckdb"
    published = _serving_counts(serving)
    # Make the served copy distinguishable from what the rerun publishes: a reader must see
    # either this whole old file or the whole new one, never something in between.
    with duckdb.connect(str(serving)) as con:
        con.execute("delete from marts.transactions where rowid % 2 = 0")
        con.execute("delete from marts.analytics_daily")
    old = _serving_counts(serving)
    assert old["transactions"] < published["transactions"]

    held = duckdb.connect(str(serving), read_only=True)
    # The reconnecting reader is another process, as a BI tool is: within one process DuckDB
    # shares one open instance per file, so it would only ever see the held (old) file.
    stop_file = demo_run.data_dir / "stop-reader"
    stop_file.unlink(missing_ok=True)
    reader = subprocess.Popen(
        [sys.executable, "-c", BI_READER, str(serving), str(stop_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        held_before = held.execute("select count(*) from marts.transactions").fetchone()[0]
        rerun = run_demo(demo_run.data_dir)
        held_after = held.execute("select count(*) from marts.transactions").fetchone()[0]
        time.sleep(1)  # a few reads of the new file
    finally:
        stop_file.touch()
        out, err = reader.communicate(timeout=60)
        held.close()
    lines = [json.loads(line) for line in out.splitlines()]
    seen = [tuple(line["counts"]) for line in lines if "counts" in line]
    errors = [line["error"] for line in lines if "error" in line]
    slowest = max((line["seconds"] for line in lines), default=0.0)

    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert re.search(
        r"^incremental run: 0 new rows landed \(the first run landed \d+\)", rerun.stdout, re.M
    )
    assert "accounts already connected" in rerun.stdout
    assert "connecting two accounts" not in rerun.stdout
    # The held connection kept its consistent (old) view and was never cut off.
    assert held_before == held_after == old["transactions"]
    # Every fresh connection saw the old file or the new one, whole.
    assert errors == []
    assert seen and set(seen) <= {
        (old["transactions"], old["analytics_daily"]),
        (published["transactions"], published["analytics_daily"]),
    }
    assert seen[-1] == (published["transactions"], published["analytics_daily"])
    assert slowest < 5.0, "a read waited on the pipeline"
    # Nothing new landed: the money marts are as before (marts.events gains the reruns'
    # `stripe.sync.started` events, so it is not compared).
    after = _serving_counts(serving)
    assert set(after) == set(published)
    assert (after["transactions"], after["analytics_daily"]) == (
        published["transactions"],
        published["analytics_daily"],
    )


def test_a_rerun_with_another_size_says_to_use_fresh(demo_run: DemoRun) -> None:
    done = subprocess.run(
        [*demo_command(demo_run.data_dir)[:-4], "--charges", "7", "--days", "20"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "--fresh" in done.stderr and "--charges" in done.stderr


def test_ctrl_c_stops_the_emulator_and_the_listener(tmp_path: Path) -> None:
    data_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        demo_command(data_dir),
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "backfilling every account" in line:
                break
        else:
            pytest.fail("the demo ended before the backfill:\n" + "".join(lines))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "stopped" in err
    from dotenv import dotenv_values

    env = dotenv_values(data_dir / "demo.env")
    assert not port_answers(env["LISTENER_PUBLIC_URL"] + "/healthz")
    assert not port_answers(env["STRIPE_API_BASE"] + "/v1/account")
