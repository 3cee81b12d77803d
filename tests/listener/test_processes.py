"""The listener as it runs in production: `stripe-pipeline listener --workers N` processes
sharing one ops store, and a SIGKILL in the middle of a burst."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.webhook_load import run_crash
from stripe_pipeline.ops_store import OpsStore
from tests.fixtures.listener import (
    TEST_OPERATOR_TOKEN,
    TEST_WEBHOOK_SECRET,
    WEBHOOK_PATH,
    charge_succeeded_event,
    encode,
    listener_process,
    sign,
)
from webhook_listener.process import ListenerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def process_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


def test_two_workers_store_one_event_posted_concurrently_many_times_exactly_once(
    process_store_url: str, tmp_path: Path
) -> None:
    event = charge_succeeded_event()
    body = encode(event)

    async def deliver_all(base_url: str) -> list[httpx.Response]:
        # Separate connections, so uvicorn spreads them over both workers.
        async def one() -> httpx.Response:
            async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
                return await client.post(
                    WEBHOOK_PATH, content=body, headers={"Stripe-Signature": sign(body)}
                )

        return await asyncio.gather(*(one() for _ in range(60)))

    with listener_process(process_store_url, workers=2, log_path=tmp_path / "listener.log") as proc:
        answers = asyncio.run(deliver_all(proc.base_url))
    assert {a.status_code for a in answers} == {200}
    outcomes = [a.json()["outcome"] for a in answers]
    assert outcomes.count("stored") == 1
    assert outcomes.count("duplicate") == 59
    with OpsStore.open(process_store_url) as store:
        assert store.webhook_event_ids() == [event["id"]]
    log = (tmp_path / "listener.log").read_text()
    assert "Started parent process" in log or "Application startup complete" in log
    for secret in (TEST_WEBHOOK_SECRET, TEST_OPERATOR_TOKEN, "4242", "Xt5EWLLDS7FJjR1c"):
        assert secret not in log


def test_sigkill_mid_burst_loses_and_doubles_nothing_once_the_sender_retries(
    process_store_url: str, tmp_path: Path
) -> None:
    result = run_crash(process_store_url, events=400, concurrency=12, workers=2, log_dir=tmp_path)
    assert len(result.answered_before_kill) >= 130  # the kill really came mid-burst
    assert result.retried > 0  # and really interrupted deliveries
    # every event answered 2xx before the kill was durably in the inbox after the restart
    assert result.missing_after_restart == set()
    # and at the end every event is there exactly once, none taken for a conflict
    assert result.exactly_once, (len(result.inbox_ids), len(set(result.inbox_ids)))
    assert result.conflicts == 0


def test_the_cli_refuses_an_unreachable_ops_store_saying_what_to_check_without_the_password() -> (
    None
):
    import subprocess
    import sys

    from tests.fixtures.listener import REPO_ROOT, free_port, listener_env

    env = listener_env(f"postgresql://postgres:hunter2-secret@127.0.0.1:{free_port()}/ops")
    done = subprocess.run(
        [sys.executable, "-m", "stripe_pipeline.cli", "listener", "--port", str(free_port())],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot open the ops store" in done.stderr
    assert "OPS_DATABASE_URL" in done.stderr
    assert "hunter2-secret" not in done.stderr + done.stdout


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_main_process_is_killed_and_a_restart_on_the_port_succeeds(
    tmp_path: Path,
) -> None:
    from tests.fixtures.listener import free_port, listener_env

    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    port = free_port()
    first = ListenerProcess(listener_env(url), port, workers=2, log_path=tmp_path / "first.log")
    first.start()
    pgid = first.proc.pid  # its own session: the group id is the main process's id
    second = ListenerProcess(listener_env(url), port, workers=2, log_path=tmp_path / "second.log")
    try:
        os.kill(first.proc.pid, signal.SIGKILL)  # only the main process, not its group
        first.proc.wait(10)
        deadline = time.monotonic() + 20
        while _group_alive(pgid):  # the workers notice and exit (nobody signals them)
            assert time.monotonic() < deadline, "the workers outlived their main process"
            time.sleep(0.2)
        second.start()  # the port is free again: no "Address already in use"
        with httpx.Client(base_url=second.base_url, timeout=10) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
        second.stop()
