"""docs/quickstart.md, step by step, against the emulator instead of Stripe: the same commands as
subprocesses, the same .env keys, the emulator's addresses in STRIPE_API_BASE/STRIPE_CONNECT_BASE,
the emulator's `--webhook-url` standing in for `stripe listen`, and Stripe's authorize page
approved without a browser (its form posted with decision=connect)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import httpx
import pytest

from stripe_pipeline.ops_store import OpsStore
from stripe_pipeline.processes import free_port, start_process, stop_process, wait_until_answers
from tests.fixtures.browser import port_answers

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "stripe_pipeline.cli"]
WEBHOOK_PATH = "/api/integrations/stripe/webhook"


def _clean_env() -> dict[str, str]:
    """The test's environment without any Stripe or pipeline setting: only .env configures."""
    prefixes = (
        "STRIPE_",
        "OPS_",
        "APP_DATABASE",
        "WAREHOUSE",
        "SERVING",
        "OPERATOR",
        "LISTENER",
        "DAGSTER_HOME",
        "DBT_",
    )
    # Where dbt writes artifacts and logs is the test run's tmp dir, not a setting.
    keep = {"DBT_TARGET_PATH", "DBT_LOG_PATH"}
    return {k: v for k, v in os.environ.items() if k in keep or not k.startswith(prefixes)}


class Processes:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log_path = self.cwd / f"{name}.log"
        proc = start_process([*CLI, *args], cwd=self.cwd, env=self.env, log_path=log_path)
        self.procs.append((proc, log_path))
        return proc

    def wait_until(self, url: str, timeout: float = 60, **kw) -> None:
        """Until `url` answers 200, failing early if the process started last exits."""
        proc, log_path = self.procs[-1]
        wait_until_answers(url, timeout=timeout, what=url, proc=proc, log_path=log_path, **kw)

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        for proc, _ in self.procs:
            stop_process(proc, timeout=10)


@pytest.fixture
def quickstart_dir(tmp_path: Path) -> Iterator[tuple[Path, Processes, dict[str, str]]]:
    # Step 2 of the quickstart: the keys in .env (the emulator's instead of a test-mode account's).
    emulator_port, listener_port = free_port(), free_port()
    emulator = f"http://127.0.0.1:{emulator_port}"
    values = {
        "STRIPE_CLIENT_SECRET": "sk_test_emulator",
        "STRIPE_CLIENT_ID": "ca_emulator",
        "STRIPE_WEBHOOK_SECRET": "whsec_quickstart" + "e5" * 16,
        "STRIPE_CONNECT_ENABLED": "true",
        "OPERATOR_TOKEN": "op_quickstart_" + "f6" * 16,
        "LISTENER_PUBLIC_URL": f"http://127.0.0.1:{listener_port}",
        "STRIPE_API_BASE": emulator,
        "STRIPE_CONNECT_BASE": emulator,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env = {**_clean_env(), "DAGSTER_HOME": str(tmp_path / "data" / "dagster")}
    procs = Processes(tmp_path, env)
    try:
        yield tmp_path, procs, values
    finally:
        procs.stop()


def test_the_quickstart_steps_end_with_the_connected_account_in_marts_transactions(
    quickstart_dir,
) -> None:
    cwd, procs, values = quickstart_dir
    listener_url = values["LISTENER_PUBLIC_URL"]
    port = listener_url.rsplit(":", 1)[1]

    # Stripe (here: the emulator, one account waiting to be connected; its webhooks go to the
    # listener as `stripe listen --forward-to ... --forward-connect-to ...` would send them).
    procs.start(
        "emulator",
        "emulator", "--port", values["STRIPE_API_BASE"].rsplit(":", 1)[1], "--seed", "5",
        "--accounts", "0", "--unconnected-accounts", "1", "--charges", "15", "--days", "10",
        "--webhook-url", listener_url + WEBHOOK_PATH, "--webhook-secret", values["STRIPE_WEBHOOK_SECRET"],
    )  # fmt: skip
    # Step 4: stripe-pipeline listener
    procs.start("listener", "listener", "--port", port)
    procs.wait_until(listener_url + "/healthz")
    procs.wait_until(
        values["STRIPE_API_BASE"] + "/v1/account", auth=(values["STRIPE_CLIENT_SECRET"], "")
    )

    # Step 5: stripe-pipeline connect --project-id ... prints the link; the user approves.
    connect = subprocess.Popen(
        [*CLI, "connect", "--project-id", "proj-quickstart", "--wait", "120"],
        cwd=cwd, env=procs.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert connect.stdout is not None
        link = ""
        for line in connect.stdout:
            if line.startswith("http"):
                link = line.strip()
                break
        assert link.startswith(values["STRIPE_CONNECT_BASE"] + "/oauth/authorize?"), link
        with httpx.Client(timeout=30, follow_redirects=True) as browser:
            page = browser.get(link)
            assert page.status_code == 200 and 'value="connect"' in page.text
            form = dict(parse_qsl(urlsplit(link).query))
            callback = browser.post(link.split("?")[0], data={**form, "decision": "connect"})
        assert str(callback.url).startswith(
            listener_url + "/api/integrations/stripe/oauth/callback"
        )
        assert (
            callback.status_code == 200 and "connected to project proj-quickstart" in callback.text
        )
        out, err = connect.communicate(timeout=120)
    finally:
        if connect.poll() is None:
            connect.kill()
            connect.wait()
    assert connect.returncode == 0, err
    assert values["OPERATOR_TOKEN"] not in out + err
    with OpsStore.open(f"sqlite:///{cwd / 'data' / 'ops.sqlite'}") as store:
        [account] = store.connected_accounts(project_id="proj-quickstart")
        webhooks_received = store.count_webhook_events()
    assert f"connected {account.stripe_account_id} to project proj-quickstart" in out

    # Step 6: the first sync.
    sync = procs.run("sync")
    assert sync.returncode == 0, sync.stdout[-3000:] + sync.stderr[-3000:]
    assert values["STRIPE_CLIENT_SECRET"] not in sync.stdout + sync.stderr

    # Step 7: the marts, in the serving file, read-only.
    serving = cwd / "data" / "serving" / "stripe.duckdb"
    with duckdb.connect(str(serving), read_only=True) as con:
        per_account = dict(
            con.execute(
                "select stripe_account_id, count(*) from marts.transactions group by 1"
            ).fetchall()
        )
        projects = {
            p
            for (p,) in con.execute("select distinct project_id from marts.transactions").fetchall()
        }
    assert per_account.get(account.stripe_account_id, 0) > 0
    assert "proj-quickstart" in projects
    # The webhook path works too: the connection's own event reached the listener's inbox.
    assert webhooks_received >= 1
    # And the runs are on the Dagster instance the UI opens (DAGSTER_HOME).
    assert (cwd / "data" / "dagster" / "dagster.yaml").is_file()
    assert port_answers(listener_url + "/healthz")


def test_connect_says_what_to_fix_when_the_listener_refuses_the_token(quickstart_dir) -> None:
    cwd, procs, values = quickstart_dir
    port = values["LISTENER_PUBLIC_URL"].rsplit(":", 1)[1]
    procs.start("listener", "listener", "--port", port)
    procs.wait_until(values["LISTENER_PUBLIC_URL"] + "/healthz")
    procs.env = {**procs.env, "OPERATOR_TOKEN": "not-the-listeners-token-" + "0" * 20}

    done = procs.run("connect", "--project-id", "p1", timeout=60)

    assert done.returncode == 1
    assert "401" in done.stderr and "OPERATOR_TOKEN" in done.stderr
    assert "not-the-listeners-token" not in done.stderr


def test_connect_says_to_start_the_listener_when_none_answers(quickstart_dir) -> None:
    _, procs, _ = quickstart_dir
    done = procs.run("connect", "--project-id", "p1", timeout=60)
    assert done.returncode == 1
    assert "stripe-pipeline listener" in done.stderr
