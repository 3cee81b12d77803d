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
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

BIN = Path(sys.executable).parent
API_KEY = "sk_test_emulator"
WEBHOOK_SECRET = "whsec_bench_" + "e5" * 16
WEBHOOK_PATH = "/api/integrations/stripe/webhook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, what: str, **kw: Any) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1, **kw).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


@dataclass
class WebhookStack:
    """Emulator, listener and Dagster daemon as subprocesses over one temporary data folder."""

    root: Path
    charges: int = 300
    seed: int = 42
    # Accounts the emulator serves: 1 is the platform's own (Connect off); more are connected
    # accounts, put in the ops store before the daemon starts (Connect on).
    accounts: int = 1
    connected: list[str] = field(default_factory=list)
    pycache_prefix: str | None = None
    # Another instance configuration than the project's dagster.yaml (to try a setting).
    dagster_yaml: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    emulator_url: str = ""
    listener_url: str = ""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def serving_path(self) -> Path:
        return self.data / "serving" / "stripe.duckdb"

    @property
    def warehouse_path(self) -> Path:
        return self.data / "warehouse.duckdb"

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen:
        out = open(self.root / log, "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            args,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Own process group: stopping it reaches the daemon's code server and run workers.
            start_new_session=True,
        )
        out.close()
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        from stripe_pipeline.sync_cli import prepare_dagster_home

        self.data.mkdir(parents=True, exist_ok=True)
        if self.dagster_yaml is not None:
            self.dagster_home.mkdir(parents=True)
            shutil.copyfile(self.dagster_yaml, self.dagster_home / "dagster.yaml")
        prepare_dagster_home(self.dagster_home)  # the project's dagster.yaml, unless given
        # Create the instance's SQLite storages now: the daemon and this process creating them
        # at the same moment race on the schema migration.
        with self.instance():
            pass
        emulator_port, listener_port = free_port(), free_port()
        self.emulator_url = f"http://127.0.0.1:{emulator_port}"
        self.listener_url = f"http://127.0.0.1:{listener_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DBT_"))}
        env.update(
            {
                "STRIPE_CLIENT_SECRET": API_KEY,
                "STRIPE_CLIENT_ID": "ca_emulator",
                "STRIPE_API_BASE": self.emulator_url,
                "STRIPE_CONNECT_BASE": self.emulator_url,
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "STRIPE_CONNECT_ENABLED": "true" if self.accounts > 1 else "false",
                "STRIPE_PIPELINE_DATA_DIR": str(self.data),
                "WAREHOUSE_PATH": str(self.warehouse_path),
                "SERVING_DIR": str(self.data / "serving"),
                "OPS_DATABASE_URL": f"sqlite:///{self.data / 'ops.sqlite'}",
                "APP_DATABASE_URL": "",
                "DAGSTER_HOME": str(self.dagster_home),
            }
        )
        if self.pycache_prefix:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = self.pycache_prefix
        self.env = env
        emulator = self._spawn(
            [
                sys.executable, "-m", "stripe_pipeline.cli", "emulator",
                "--port", str(emulator_port), "--seed", str(self.seed),
                "--accounts", str(self.accounts - 1), "--unconnected-accounts", "0",
                "--charges", str(self.charges),
                "--webhook-url", self.listener_url + WEBHOOK_PATH,
                "--webhook-secret", WEBHOOK_SECRET,
            ],
            "emulator.log",
        )  # fmt: skip
        listener = self._spawn(
            [sys.executable, "-m", "stripe_pipeline.cli", "listener", "--port", str(listener_port)],
            "listener.log",
        )
        _wait_http(
            self.emulator_url + "/v1/account", 60, emulator, "the emulator", auth=(API_KEY, "")
        )
        _wait_http(self.listener_url + "/healthz", 60, listener, "the listener")
        if self.accounts > 1:
            self._connect_accounts()
        self._spawn(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            "daemon.log",
        )

    def _connect_accounts(self) -> None:
        """The emulator's connected accounts into the ops store, as OAuth would have put them."""
        from stripe_pipeline.ops_store import OpsStore

        self.connected = [
            a.id for a in self.client().v1.accounts.list({"limit": 100}).auto_paging_iter()
        ]
        with OpsStore.open(self.env["OPS_DATABASE_URL"]) as store:
            for n, account in enumerate(self.connected, start=1):
                store.upsert_account(
                    project_id=f"project-{n}", stripe_account_id=account, livemode=False,
                    scope="read_write",
                )  # fmt: skip

    def client(self) -> Any:
        import stripe

        return stripe.StripeClient(
            API_KEY,
            base_addresses={"api": self.emulator_url, "connect": self.emulator_url},
            max_network_retries=0,
        )

    def instance(self) -> Any:
        import dagster as dg

        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def wait_for_run(self, trigger: str, timeout: float) -> Any:
        """The first run with this trigger tag, once it has ended (raises if it failed)."""
        import dagster as dg

        from stripe_pipeline.defs.common import TAG_TRIGGER

        deadline = time.monotonic() + timeout
        with self.instance() as instance:
            while time.monotonic() < deadline:
                self.check_alive()
                runs = instance.get_runs(filters=dg.RunsFilter(tags={TAG_TRIGGER: trigger}))
                for run in runs:
                    if run.status == dg.DagsterRunStatus.SUCCESS:
                        return run
                    if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                        raise RuntimeError(
                            f"{trigger} run {run.run_id} ended {run.status.value}: see "
                            f"{self.root}/daemon.log and the run's logs in {self.dagster_home}"
                        )
                time.sleep(1)
        raise TimeoutError(f"no {trigger} run succeeded within {timeout} s")

    def wait_idle(self, timeout: float) -> None:
        """No run queued or in progress and no inbox event waiting."""
        import dagster as dg

        from stripe_pipeline.ops_store import OpsStore

        busy = [
            dg.DagsterRunStatus.QUEUED,
            dg.DagsterRunStatus.NOT_STARTED,
            dg.DagsterRunStatus.STARTING,
            dg.DagsterRunStatus.STARTED,
        ]
        store = OpsStore.open(self.env["OPS_DATABASE_URL"])
        deadline = time.monotonic() + timeout
        try:
            with self.instance() as instance:
                quiet_since = None
                while time.monotonic() < deadline:
                    running = instance.get_runs(filters=dg.RunsFilter(statuses=busy))
                    if running or store.pending_webhook_events(limit=1):
                        quiet_since = None
                    elif quiet_since is None:
                        quiet_since = time.monotonic()
                    elif time.monotonic() - quiet_since > 7:  # longer than a sensor interval
                        return
                    time.sleep(0.5)
        finally:
            store.close()
        raise TimeoutError(f"the pipeline did not go idle within {timeout} s")

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{proc.args[:4]} exited with {proc.returncode}; see {self.root}"
                )

    def stop_daemon(self) -> None:
        daemon = self.procs[-1]
        self._stop(daemon)

    def _stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Children that outlived their parent (a run worker mid-step) are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self._stop(proc)


@contextlib.contextmanager
def webhook_stack(root: Path, **options: Any) -> Iterator[WebhookStack]:
    stack = WebhookStack(root=root, **options)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


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
