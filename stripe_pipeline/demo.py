"""`stripe-pipeline demo`: the whole pipeline on one machine, against the local Stripe emulator.

It starts the emulator (a platform account and two accounts waiting to be connected) and the
webhook listener as subprocesses, writes a host-app database matching the emulator's catalog,
connects the two accounts through the real Connect OAuth flow (the listener's start route, the
emulator's authorize page, the listener's callback), then runs the Dagster assets (backfill every
account, load the app and ops tables, dbt build, publish) and prints what landed.

Everything goes under the data directory (default `data/demo`): the warehouse, the ops store, the
host-app database, the serving files, the Dagster instance (DAGSTER_HOME) and the subprocesses'
logs. A second run reuses it: the accounts stay connected (as they would at Stripe) and the sync is
incremental (the emulator serves the same history again, so it lands no new rows). `--fresh`
starts over.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stripe_pipeline.money import format_money
from stripe_pipeline.processes import (
    ServiceError,
    check_running,
    free_port,
    start_process,
    stop_process,
    wait_until_answers,
)

# dlt imports sqlglot, whose optional Rust tokenizer warns on every start: noise for a newcomer.
warnings.filterwarnings("ignore", message=r"sqlglot\[rs\] is deprecated")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path("data/demo")
STATE_FILE = "demo.json"
# The environment of every demo process, and what `dagster dev` needs to see the same instance.
ENV_FILE = "demo.env"
PREFIX = "/api/integrations/stripe"
EMULATOR_KEY = "sk_test_emulator"
EMULATOR_CLIENT_ID = "ca_emulator"
# The emulator's account numbers: 0 is the platform, 1 and 2 are connected through OAuth. The
# host-app database names their projects `project-{n}` (stripe_emulator.generator.catalog).
CONNECTED_ACCOUNT_NUMBERS = (1, 2)


class DemoError(RuntimeError):
    """A step failed; the message says what happened and where to look."""


# -- state kept in the data directory ----------------------------------------------------------


@dataclass
class DemoState:
    """What later runs must reuse (no secrets: those live in demo.env, mode 0600)."""

    seed: int
    charges: int
    days: int
    # The generated history ends here on every run, so a rerun on another day sees the same data.
    end: str
    emulator_port: int
    listener_port: int
    accounts: dict[str, str] = field(default_factory=dict)  # project id -> acct_...
    runs: int = 0
    first_run_rows: int = 0

    @classmethod
    def load(cls, path: Path) -> DemoState | None:
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise DemoError(
                f"{path} is not a demo state file ({exc}); rerun with --fresh to start over"
            ) from None

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


def _read_env_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None} if path.is_file() else {}


def ui_command(env_path: Path) -> str:
    """The shell command (run from the repository root) that opens the Dagster UI on the
    demo's instance, with the demo's settings exported."""
    return f"(set -a; . {shlex.quote(_display(env_path))}; exec .venv/bin/dagster dev -w workspace.yaml)"


def console_command(env_path: Path, port: int) -> str:
    """The shell command (from the repository root) that serves the console on the demo's data."""
    return f"(set -a; . {shlex.quote(_display(env_path))}; exec .venv/bin/stripe-pipeline listener --port {port})"


def _write_env_file(path: Path, env: dict[str, str]) -> None:
    lines = [
        "# Written by `stripe-pipeline demo`: the demo's settings (the operator token and webhook",
        "# secret are generated for this data directory). Load it to open the Dagster UI:",
        f"#   {ui_command(path)}",
    ]
    # Single-quoted, so both `. demo.env` in a shell and python-dotenv read paths with spaces.
    lines += [f"{key}='{value}'" for key, value in env.items()]
    tmp = path.with_suffix(".tmp")
    # 0600: the file holds the generated operator token and webhook secret.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


# -- subprocesses ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM when the demo dies, even by SIGKILL, so no emulator or
    # listener outlives it. Elsewhere the `finally` in `Services` is what stops them.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Service:
    name: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    def check_alive(self) -> None:
        try:
            check_running(self.proc, f"the {self.name}", self.log_path)
        except ServiceError as error:
            raise DemoError(str(error)) from None

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


class Services:
    """The emulator and the listener, stopped on exit whatever happens."""

    def __init__(self, log_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self.running: list[Service] = []

    def start(self, name: str, args: list[str]) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"\n--- {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n".encode())
            log.flush()
        # Its own process group: Ctrl-C reaches the demo, which then stops it in order.
        proc = start_process(
            [sys.executable, "-m", "stripe_pipeline.cli", name, *args],
            env=self.env,
            cwd=self.cwd,
            log_path=log_path,
            preexec_fn=_die_with_parent,
        )
        service = Service(name, log_path, proc)
        self.running.append(service)
        return service

    def wait_until_ready(
        self, service: Service, url: str, timeout: float = 60.0, **kw: Any
    ) -> None:
        try:
            wait_until_answers(
                url,
                timeout=timeout,
                what=f"the {service.name}",
                proc=service.proc,
                log_path=service.log_path,
                **kw,
            )
        except ServiceError as error:
            raise DemoError(str(error)) from None

    def stop_all(self) -> None:
        for service in reversed(self.running):
            service.stop()
        self.running.clear()


# -- progress ----------------------------------------------------------------------------------


class Progress:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.current = "starting"

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", flush=True)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.current = name
        self.say(name + " ...")
        try:
            yield
        except DemoError as exc:
            raise DemoError(f"{name}: {exc}") from None
        except Exception as exc:
            # Anything unexpected still says which step it broke and keeps its cause.
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            raise DemoError(f"{name}: {type(exc).__name__}: {first_line}") from exc


# -- the OAuth flow, as a browser walks it -----------------------------------------------------


def connect_account(listener_url: str, operator_token: str, project_id: str) -> None:
    """Connect one emulator account to `project_id` through the listener's real OAuth routes:
    start (operator token) -> the emulator's authorize page -> "Connect" -> the callback, which
    stores the account in the ops store."""
    import httpx

    with httpx.Client(timeout=30) as operator:
        start = operator.get(
            f"{listener_url}{PREFIX}/oauth/start",
            params={"project_id": project_id},
            headers={"Authorization": f"Bearer {operator_token}"},
        )
    if start.status_code != 302:
        raise DemoError(
            f"the listener's oauth/start answered {start.status_code}: {start.text[:200]}"
        )
    authorize_url = start.headers["location"]
    # A browser: load Stripe's page, submit its form with "Connect", follow redirects back to
    # the listener's callback (which exchanges the code and stores the account).
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        page = browser.get(authorize_url)
        if page.status_code != 200 or 'value="connect"' not in page.text:
            raise DemoError(
                f"the emulator's authorize page answered {page.status_code}; expected its Connect form"
            )
        form = dict(parse_qsl(urlsplit(authorize_url).query))
        action = authorize_url.split("?", 1)[0]
        callback = browser.post(action, data={**form, "decision": "connect"})
    if callback.status_code != 200 or "connected" not in callback.text:
        raise DemoError(
            f"the listener's OAuth callback answered {callback.status_code}; see logs/listener.log"
        )
    return callback.text


def _display(path: Path) -> str:
    """`path` relative to the working directory when it is under it (shorter commands)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -- the demo ----------------------------------------------------------------------------------


@dataclass
class DemoPaths:
    data_dir: Path

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.data_dir / "serving"

    @property
    def ops_db(self) -> Path:
        return self.data_dir / "ops.sqlite"

    @property
    def app_db(self) -> Path:
        return self.data_dir / "app.sqlite"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"


def demo_env(paths: DemoPaths, state: DemoState, secrets_env: dict[str, str]) -> dict[str, str]:
    """Every setting the pipeline reads, explicitly: a user's own .env or exported Stripe keys
    must not leak into the demo (nor the demo's into them)."""
    emulator = f"http://127.0.0.1:{state.emulator_port}"
    return {
        "STRIPE_CLIENT_SECRET": EMULATOR_KEY,
        "STRIPE_CLIENT_ID": EMULATOR_CLIENT_ID,
        "STRIPE_WEBHOOK_SECRET": secrets_env["STRIPE_WEBHOOK_SECRET"],
        "STRIPE_CONNECT_ENABLED": "true",
        "STRIPE_CATALOG_WRITE_ENABLED": "false",
        "STRIPE_API_BASE": emulator,
        "STRIPE_CONNECT_BASE": emulator,
        # The emulator enforces no rate limit unless asked; Stripe's live-mode figure keeps the
        # demo quick while the token bucket still runs as it would against Stripe.
        "STRIPE_RATE_LIMIT": "100",
        "STRIPE_PIPELINE_DATA_DIR": str(paths.data_dir),
        "WAREHOUSE_PATH": str(paths.warehouse),
        "SERVING_DIR": str(paths.serving),
        "OPS_DATABASE_URL": f"sqlite:///{paths.ops_db}",
        "APP_DATABASE_URL": f"sqlite:///{paths.app_db}",
        "STRIPE_PLATFORM_PROJECT_ID": "project-0",
        "OPERATOR_TOKEN": secrets_env["OPERATOR_TOKEN"],
        "LISTENER_PUBLIC_URL": f"http://127.0.0.1:{state.listener_port}",
        "DBT_TARGET": "duckdb",
        "DAGSTER_HOME": str(paths.dagster_home),
    }


def _landed_row_count(warehouse: Path) -> int:
    """Rows in the landed Stripe tables. A sync merges updated objects in place, so the change
    in this count is what a run added; the rows it fetched include the balance transactions
    fetched again because they were still pending."""
    import duckdb

    if not warehouse.exists():
        return 0
    with duckdb.connect(str(warehouse)) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'stripe' and table_name not like '\\_%' escape '\\'"
            ).fetchall()
        ]
        return sum(
            con.execute(f'select count(*) from stripe."{name}"').fetchone()[0] for name in tables
        )


def _currency_totals(serving_db: Path) -> list[tuple[str, int, int, int, int]]:
    import duckdb

    with duckdb.connect(str(serving_db), read_only=True) as con:
        return con.execute(
            """
            select currency, sum(gross_amount), sum(fee_amount), sum(net_amount), sum(charge_count)
            from marts.analytics_daily
            where source = 'stripe'
            group by currency
            -- a currency with only failed charges has no money to show
            having sum(charge_count) > 0 or sum(net_amount) <> 0
            order by sum(gross_amount) desc
            """
        ).fetchall()


def _payouts_and_balances(serving_db: Path) -> list[tuple[str, int, int, int, int, int]]:
    """Per currency: paid payouts (count, amount), how many of the paid automatic ones reconcile
    to the transactions they settled, and today's available and pending balance."""
    import duckdb

    with duckdb.connect(str(serving_db), read_only=True) as con:
        return con.execute(
            """
            with paid as (
                select currency, count(*) as paid, sum(amount) as paid_amount,
                    sum(case when reconciled then 1 else 0 end) as reconciled
                from marts.payouts where status = 'paid' group by currency
            ),
            today as (
                select currency, sum(available_amount) as available,
                    sum(pending_amount) as pending
                from marts.balances where is_current group by currency
            )
            select coalesce(paid.currency, today.currency), coalesce(paid.paid, 0),
                coalesce(paid.paid_amount, 0), coalesce(paid.reconciled, 0),
                coalesce(today.available, 0), coalesce(today.pending, 0)
            from paid full outer join today on paid.currency = today.currency
            order by 1
            """
        ).fetchall()


def run_demo(
    data_dir: Path,
    charges: int,
    fresh: bool,
    seed: int = 42,
    days: int = 60,
    serve: bool = False,
) -> int:
    progress = Progress()
    paths = DemoPaths(data_dir.resolve())
    if fresh and paths.data_dir.exists():
        progress.say(f"--fresh: removing {_display(paths.data_dir)}")
        shutil.rmtree(paths.data_dir)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    state_path = paths.data_dir / STATE_FILE
    state = DemoState.load(state_path)
    rerun = state is not None and state.runs > 0
    if state is not None and (state.charges, state.seed, state.days) != (charges, seed, days):
        raise DemoError(
            f"{_display(paths.data_dir)} holds a demo made with --charges {state.charges} "
            f"--seed {state.seed} --days {state.days}; rerun with those, or add --fresh to start over"
        )
    if state is None:
        today = dt.datetime.now(dt.UTC).date().isoformat()
        state = DemoState(
            seed, charges, days, today, free_port(preferred=12111), free_port(preferred=8000)
        )
    else:
        # Reuse the ports when free (demo.env keeps pointing at them), else take others.
        state.emulator_port = free_port(preferred=state.emulator_port)
        state.listener_port = free_port(preferred=state.listener_port)
    env_path = paths.data_dir / ENV_FILE
    known = _read_env_file(env_path)
    secrets_env = {
        "STRIPE_WEBHOOK_SECRET": known.get("STRIPE_WEBHOOK_SECRET")
        or "whsec_" + secrets.token_hex(24),
        "OPERATOR_TOKEN": known.get("OPERATOR_TOKEN") or secrets.token_urlsafe(32),
    }
    env = demo_env(paths, state, secrets_env)
    _write_env_file(env_path, env)
    state.save(state_path)
    progress.say(
        ("reusing " if rerun else "new demo in ")
        + f"{_display(paths.data_dir)} (seed {seed}, {charges} charges per account, {days} days to {state.end})"
    )

    from stripe_pipeline.settings import load_settings

    settings = load_settings(env=env, dotenv_path=os.devnull)
    listener_url = env["LISTENER_PUBLIC_URL"]
    api_base = env["STRIPE_API_BASE"]
    services = Services(paths.logs, {**os.environ, **env}, cwd=paths.data_dir)
    instance = None
    try:
        with progress.step(f"starting the webhook listener on {listener_url}"):
            listener = services.start(
                "listener", ["--port", str(state.listener_port), "--log-level", "warning"]
            )
            services.wait_until_ready(listener, f"{listener_url}/healthz")

        connected_from_start = len(state.accounts) if rerun else 0
        with progress.step(f"starting the Stripe emulator on {api_base}"):
            emulator = services.start(
                "emulator",
                [
                    "--port",
                    str(state.emulator_port),
                    "--seed",
                    str(seed),
                    # Connections persist at Stripe: on a rerun the accounts connected last time
                    # are connected from the start; the first run connects them through OAuth.
                    "--accounts",
                    str(connected_from_start),
                    "--unconnected-accounts",
                    str(len(CONNECTED_ACCOUNT_NUMBERS) - connected_from_start),
                    "--charges",
                    str(charges),
                    "--days",
                    str(days),
                    "--end",
                    state.end,
                    "--webhook-url",
                    f"{listener_url}{PREFIX}/webhook",
                    "--webhook-secret",
                    secrets_env["STRIPE_WEBHOOK_SECRET"],
                ],  # fmt: skip
            )
            services.wait_until_ready(
                emulator, f"{api_base}/v1/account", timeout=120, auth=(EMULATOR_KEY, "")
            )

        with progress.step("writing the demo host-app database (projects, products, prices, SKUs)"):
            from stripe_emulator.generator import catalog
            from stripe_pipeline.app_source import create_demo_app_database

            create_demo_app_database(
                paths.app_db, [catalog(seed, n) for n in (0, *CONNECTED_ACCOUNT_NUMBERS)]
            )

        from stripe_pipeline.ops_store import OpsStore

        if not rerun:
            with progress.step(
                "connecting two accounts through Connect OAuth (listener -> Stripe's page -> callback)"
            ):
                for n in CONNECTED_ACCOUNT_NUMBERS:
                    project = f"project-{n}"
                    connect_account(listener_url, env["OPERATOR_TOKEN"], project)
                    with OpsStore.open(settings.ops_database_url) as store:
                        [account] = store.connected_accounts(project_id=project)
                    state.accounts[project] = account.stripe_account_id
                    progress.say(f"  {project}: connected {account.stripe_account_id}")
            state.save(state_path)
        else:
            progress.say(
                "accounts already connected: "
                + ", ".join(f"{p} {a}" for p, a in sorted(state.accounts.items()))
            )
        step_name = "incremental sync" if rerun else "backfilling every account"
        with progress.step(
            f"{step_name}, loading app/ops tables, dbt build, publish (Dagster runs)"
        ):
            import dagster as dg

            from stripe_pipeline.sync_cli import prepare_dagster_home, run_all

            prepare_dagster_home(paths.dagster_home)
            rows_before = _landed_row_count(Path(settings.warehouse_path))
            os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
            instance = dg.DagsterInstance.get()
            summary = run_all(
                settings, instance=instance, progress=lambda m: progress.say("  " + m)
            )
        if not summary.success:
            failed = [a for a in summary.accounts if not a.success]
            what = (
                f"account {failed[0].account_id}: {failed[0].error}"
                if failed
                else f"marts: {summary.marts_error}"
            )
            raise DemoError(
                f"the pipeline run failed ({what}); the runs and their logs are in the Dagster UI "
                f"(see {_display(env_path)} for the command)"
            )
        fetched_rows = sum(sum(a.rows.values()) for a in summary.accounts)
        new_rows = _landed_row_count(Path(settings.warehouse_path)) - rows_before
        state.runs += 1
        if not rerun:
            state.first_run_rows = new_rows
        state.save(state_path)
        _print_summary(paths, state, env_path, summary, new_rows, fetched_rows, rerun, progress)
        if serve:
            _serve_console(services, listener_url, env["OPERATOR_TOKEN"])
        return 0
    finally:
        services.stop_all()
        if instance is not None:
            instance.dispose()


def _print_summary(
    paths: DemoPaths,
    state: DemoState,
    env_path: Path,
    summary: Any,
    new_rows: int,
    fetched_rows: int,
    rerun: bool,
    progress: Progress,
) -> None:
    from stripe_pipeline.publish import PARQUET_DIR, SERVING_DB

    serving_db = paths.serving / SERVING_DB
    print()
    progress.say("done")
    if rerun:
        print(
            f"incremental run: {new_rows} new rows landed "
            f"(the first run landed {state.first_run_rows}); run again with --fresh to start over"
        )
        if fetched_rows > new_rows:
            print(
                f"  {fetched_rows - new_rows} rows fetched again and updated in place (balance "
                "transactions still pending are fetched until they settle)"
            )
    else:
        print(f"first run: {new_rows} rows landed; run the demo again for an incremental run")
    print("\naccounts:")
    for a in summary.accounts:
        project = next(
            (p for p, acct in state.accounts.items() if acct == a.account_id), "project-0"
        )
        kind = "platform" if project == "project-0" else "connected with OAuth"
        print(f"  {a.account_id}  {project:<10} {kind:<21} {sum(a.rows.values()):>6} rows this run")
    print("\nmarts (rows):")
    for table, rows in sorted(summary.published.items()):
        print(f"  marts.{table:<30} {rows:>7}")
    print("\nStripe totals per currency (marts.analytics_daily, minor units shown as amounts):")
    print(f"  {'currency':<9}{'gross':>14}{'fees':>12}{'net':>14}{'charges':>9}")
    for currency, gross, fees, net, count in _currency_totals(serving_db):
        print(
            f"  {currency.upper():<9}{format_money(gross, currency):>14}"
            f"{format_money(fees, currency):>12}{format_money(net, currency):>14}{int(count or 0):>9}"
        )
    print("\npayouts and balances per currency (marts.payouts, marts.balances):")
    print(
        f"  {'currency':<9}{'paid out':>14}{'payouts':>9}{'reconciled':>12}{'available':>14}{'pending':>14}"
    )
    for currency, paid, paid_amount, reconciled, available, pending in _payouts_and_balances(
        serving_db
    ):
        print(
            f"  {currency.upper():<9}{format_money(paid_amount, currency):>14}{paid:>9}"
            f"{reconciled:>12}{format_money(available, currency):>14}"
            f"{format_money(pending, currency):>14}"
        )
    print("\nfiles for BI tools (open read-only; see docs/operations.md):")
    print(f"  {_display(serving_db)}")
    print(f"  {_display(paths.serving / PARQUET_DIR)}/<mart>.parquet")
    print(
        f'  e.g. duckdb -readonly {_display(serving_db)} "select * from marts.transactions limit 5"'
    )
    print("\nthe Dagster UI on this instance (runs, asset graph, partitions per account):")
    print(f"  {ui_command(env_path)}")
    print(
        "  the emulator stops with the demo, so until it is served again the sensors' ticks fail;\n"
        "  to materialize from the UI, serve it beside the UI with:\n"
        f"  .venv/bin/stripe-pipeline emulator --port {state.emulator_port} --seed {state.seed} "
        f"--accounts {len(state.accounts)} --unconnected-accounts 0 --charges {state.charges} "
        f"--days {state.days} --end {state.end}"
    )
    print(f"logs of the emulator and the listener: {_display(paths.logs)}/")
    print(
        f"\nthe console: http://127.0.0.1:{state.listener_port}/console (sign in with OPERATOR_TOKEN from {_display(env_path)});\n  once the demo has stopped, serve it on this data with: {console_command(env_path, state.listener_port)}"
    )


def _serve_console(services: Services, listener_url: str, operator_token: str) -> None:
    """Keep the listener (and the emulator, so Connect works) up for the console until Ctrl-C.
    The token is shown here, to the person about to sign in; the summary above never shows it."""
    print(
        f"\nserving the console at {listener_url}/console/ until Ctrl-C; sign in with the "
        f"operator token {operator_token}",
        flush=True,
    )
    # Dagster's in-process runs above may leave SIGINT/SIGTERM ignored; here both must stop us.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _on_sigterm)
    try:
        while True:
            for service in services.running:
                service.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping the console, the listener and the emulator", flush=True)


# -- command line ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"where the warehouse, ops store, serving files and Dagster instance go (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--charges",
        type=int,
        default=300,
        help="generated charges per account (default 300; the tests use fewer)",
    )
    parser.add_argument(
        "--days", type=int, default=60, help="days of generated history (default 60)"
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="the emulator's data seed (default 42)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="delete the data directory first and start over"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="afterwards keep the listener and emulator running for the console until Ctrl-C",
    )


def _on_sigterm(_signum: int, _frame: Any) -> None:
    # Turn SIGTERM into the same orderly exit as Ctrl-C: the subprocesses are stopped.
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    if args.charges < 1 or args.days < 1:
        print("demo: --charges and --days must be at least 1", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run_demo(
            args.data_dir,
            args.charges,
            args.fresh,
            seed=args.seed,
            days=args.days,
            serve=args.serve,
        )
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted: the emulator and the listener were stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
