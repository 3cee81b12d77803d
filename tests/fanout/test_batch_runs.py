"""Batch runs under Dagster: a run killed mid-batch resumes without fetching the accounts it
already landed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.automation.jobs import partition_range_tags
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, TAG_BATCH
from stripe_pipeline.defs.ingestion.sync_record import SYNC_STATE_SOURCE
from stripe_pipeline.settings import Settings
from stripe_pipeline.sync_cli import _failure, prepare_dagster_home

REPO_ROOT = Path(__file__).resolve().parents[2]


def _landed_by(ops_store, accounts: list[str], run_id: str) -> set[str]:
    states = {s.account_id: s.cursor for s in ops_store.sync_states()}
    return {
        a
        for a in accounts
        if states.get(a, {}).get("run_id") == run_id and states[a].get("status") == "succeeded"
    }


@pytest.mark.slow
def test_a_batch_run_killed_midway_resumes_without_fetching_the_accounts_it_landed(
    emulator: EmulatorHandle,
    pipeline_env: dict[str, str],
    pipeline_settings: Settings,
    orchestration_defs: dg.Definitions,
    ops_store,
    tmp_path: Path,
) -> None:
    accounts = [emulator.platform_account_id, *emulator.connected_account_ids]
    for account in emulator.connected_account_ids:
        ops_store.upsert_account(
            project_id="proj_a", stripe_account_id=account, livemode=False, scope="read_only"
        )
    home = prepare_dagster_home(tmp_path / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
    # The last two accounts answer slowly, so the kill lands while they are being fetched,
    # after the first ones landed (one account per load).
    slow = accounts[-2:]
    httpx.post(
        emulator.url("/_emulator/faults"), json={"latency_ms": 1500, "accounts": slow}
    ).raise_for_status()
    batch = {TAG_BATCH: "nightly:test"}
    env = {
        **os.environ,
        **pipeline_env,
        "DAGSTER_HOME": str(home),
        "STRIPE_SYNC_ACCOUNTS_PER_LOAD": "1",
        "STRIPE_SYNC_ACCOUNTS_AT_ONCE": "1",
    }
    spec = {"job": "stripe_ingest_job", "accounts": accounts, "tags": batch}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fanout.batch_child", json.dumps(spec)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        first_run = None
        while time.monotonic() < deadline and child.poll() is None:
            states = [s.cursor for s in ops_store.sync_states()]
            runs = {c.get("run_id") for c in states if c.get("status") == "succeeded"}
            if len(runs) == 1:
                first_run = runs.pop()
                if len(_landed_by(ops_store, accounts, first_run)) >= 2:
                    break
            time.sleep(0.2)
        assert child.poll() is None, child.stdout.read().decode()[-3000:]
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert first_run is not None
    landed_first = _landed_by(ops_store, accounts, first_run)
    assert 2 <= len(landed_first) < len(accounts)
    httpx.delete(emulator.url("/_emulator/faults")).raise_for_status()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        # What Dagster's run monitoring does for a run whose worker died: mark it failed, which
        # frees the `warehouse` pool slot it held.
        (killed,) = instance.get_runs(filters=dg.RunsFilter(run_ids=[first_run]))
        instance.report_run_failed(killed)
        instance.event_log_storage.free_concurrency_slots_for_run(first_run)
        # The same batch again (a re-execution carries its root run id; here the batch tag).
        result = orchestration_defs.resolve_job_def("stripe_ingest_job").execute_in_process(
            instance=instance,
            tags={**partition_range_tags(accounts), **batch},
            raise_on_error=False,
        )
        assert result.success, _failure(result)
        (rerun,) = instance.get_runs(filters=dg.RunsFilter(run_ids=[result.run_id]))
        charges = instance.fetch_materializations(
            dg.AssetKey(["stripe", "charges"]), limit=50
        ).records
    # What the killed attempt landed is not fetched again: no sync started for it in this run,
    # and nothing of it was materialized again.
    assert rerun.tags["stripe_pipeline/accounts_landed_earlier"] == str(len(landed_first))
    again = {r.partition_key for r in charges if r.run_id == result.run_id}
    assert again == set(accounts) - landed_first
    assert _landed_by(ops_store, accounts, first_run) == landed_first
    assert _landed_by(ops_store, accounts, result.run_id) == set(accounts) - landed_first
    for account in landed_first:
        history = ops_store.sync_state(
            "proj_a" if account != emulator.platform_account_id else "default",
            account,
            SYNC_STATE_SOURCE,
        ).cursor["history"]
        assert [h["run_id"] for h in history] == [first_run]
    with duckdb.connect(str(pipeline_settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "select account_id, count(*), count(distinct id) from stripe.charges group by 1"
        ).fetchall()
    assert {a for a, _, _ in rows} == set(accounts)
    assert all(n == distinct == 15 for _, n, distinct in rows)
