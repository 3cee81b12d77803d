"""`stripe-pipeline sync`: run the Dagster assets from the command line.

Syncs the named Stripe accounts (all accounts to sync when none is named: the platform's own,
plus the connected accounts in the ops store when STRIPE_CONNECT_ENABLED is on), one Dagster run
per account, then loads the app and ops tables, builds the dbt marts and publishes them, in a
last run. Runs are recorded on the Dagster instance at DAGSTER_HOME (an ephemeral one when it is
unset), so `dagster dev` with the same DAGSTER_HOME shows them.

`run_all(settings, accounts=None, instance=None)` does the same from Python (the demo uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stripe_pipeline.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

# Keep the command line's output to progress lines; the Dagster event log has the detail.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class AccountRun:
    account_id: str
    run_id: str
    success: bool
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunSummary:
    accounts: list[AccountRun] = field(default_factory=list)
    marts_run_id: str | None = None
    marts_success: bool = False
    marts_error: str | None = None
    marts_seconds: float = 0.0
    published: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(a.success for a in self.accounts) and self.marts_success

    def lines(self) -> list[str]:
        out = []
        for a in self.accounts:
            state = "ok" if a.success else "FAILED"
            out.append(
                f"  {a.account_id}: {state}, {sum(a.rows.values())} rows in {a.seconds:.1f}s"
                + (f" ({a.error})" if a.error else "")
            )
        marts = "ok" if self.marts_success else f"FAILED ({self.marts_error})"
        out.append(
            f"  marts: {marts} in {self.marts_seconds:.1f}s; {len(self.published)} published"
        )
        return out


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that `load_settings` turns back into `settings` (what the Dagster
    resources read at run time)."""
    return {
        "STRIPE_CLIENT_SECRET": settings.stripe_client_secret,
        "STRIPE_CLIENT_ID": settings.stripe_client_id,
        "STRIPE_WEBHOOK_SECRET": ",".join(settings.stripe_webhook_secrets),
        "STRIPE_CONNECT_ENABLED": "true" if settings.connect_enabled else "false",
        "STRIPE_CATALOG_WRITE_ENABLED": "true" if settings.catalog_write_enabled else "false",
        "STRIPE_API_BASE": settings.api_base,
        "STRIPE_CONNECT_BASE": settings.connect_base,
        "STRIPE_PIPELINE_DATA_DIR": str(settings.data_dir),
        "WAREHOUSE_PATH": str(settings.warehouse_path),
        "SERVING_DIR": str(settings.serving_dir),
        "OPS_DATABASE_URL": settings.ops_database_url,
        "APP_DATABASE_URL": settings.app_database_url,
        "STRIPE_PLATFORM_PROJECT_ID": settings.platform_project_id,
        "STRIPE_RATE_LIMIT": str(settings.rate_limit or ""),
        "OPERATOR_TOKEN": settings.operator_token,
        "LISTENER_PUBLIC_URL": settings.listener_public_url,
        "DBT_TARGET": settings.dbt_target,
    }


INSTANCE_TEMPLATE = Path(__file__).resolve().parents[1] / "dagster.yaml"


def prepare_dagster_home(home: str | Path) -> Path:
    """Create `home` with the repository's dagster.yaml (the `warehouse` pool limit) unless it
    already has one, so `dagster dev` and `stripe-pipeline sync` share one limited instance."""
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and INSTANCE_TEMPLATE.is_file():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
    return home


def default_instance() -> dg.DagsterInstance:
    """The instance at DAGSTER_HOME (prepared with the pool limit), else an ephemeral one."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        prepare_dagster_home(os.environ["DAGSTER_HOME"])
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _failure(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            # Dagster wraps the op's exception ("Error occurred while executing op ..."): the
            # innermost cause is the one that says what went wrong.
            while error.cause is not None:
                error = error.cause
            return error.message.strip().splitlines()[0]
    return "the run failed; see its event log in the Dagster UI"


def _rows(result: Any) -> dict[str, int]:
    rows = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        value = mat.metadata.get("rows_loaded")
        if value is not None:
            rows[mat.asset_key.path[-1]] = int(value.value)
    return rows


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def run_all(
    settings: Settings,
    accounts: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    *,
    full_refresh: bool = False,
    marts: bool = True,
    progress: Callable[[str], None] | None = None,
    quiet: bool = True,
) -> RunSummary:
    """Sync `accounts` (default: every account to sync), then build and publish the marts.

    Each account is one run of `stripe_sync_job` limited to the Stripe assets; the marts are one
    run of `marts_job`. A failed account is reported and the others still run; the marts are
    built only if every account landed. `quiet` keeps dbt's own output (which dagster-dbt
    copies to stdout) off the terminal; the Dagster event log keeps it.
    """
    from stripe_pipeline.accounts import accounts_to_sync
    from stripe_pipeline.definitions import build_definitions
    from stripe_pipeline.defs.common import (
        STRIPE_ACCOUNTS,
        TAG_TRIGGER,
        OpsStoreResource,
        PipelineSettings,
    )
    from stripe_pipeline.ops_store import OpsStore

    say = progress or (lambda _message: None)
    instance = instance or default_instance()
    if accounts is None:
        with OpsStore.open(settings.ops_database_url) as store:
            accounts = [a.account_id for a in accounts_to_sync(settings, store)]
    accounts = list(dict.fromkeys(accounts))
    known = set(instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name))
    new = [a for a in accounts if a not in known]
    if new:
        instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, new)

    resource = PipelineSettings(env_overrides=settings_env(settings), dotenv_path=os.devnull)
    defs = build_definitions(
        resources={"settings": resource, "ops_store": OpsStoreResource(settings=resource)}
    )
    ingest_job = defs.resolve_job_def("stripe_ingest_job")
    run_config: dict[str, Any] = dict(_QUIET)
    if full_refresh:
        run_config["ops"] = {"stripe_source": {"config": {"full_refresh": True}}}

    summary = RunSummary()
    for account_id in accounts:
        say(f"syncing {account_id} ...")
        started = time.perf_counter()
        with _quiet(quiet):
            result = ingest_job.execute_in_process(
                instance=instance,
                partition_key=account_id,
                run_config=run_config,
                tags={TAG_TRIGGER: "cli"},
                raise_on_error=False,
            )
        run = AccountRun(
            account_id=account_id,
            run_id=result.run_id,
            success=result.success,
            seconds=time.perf_counter() - started,
            rows=_rows(result) if result.success else {},
            error=None if result.success else _failure(result),
        )
        summary.accounts.append(run)
        if run.success:
            say(f"  {account_id}: {sum(run.rows.values())} rows in {run.seconds:.1f}s")
        else:
            say(f"  {account_id}: FAILED: {run.error}")

    if not marts:
        summary.marts_success = True
        return summary
    if not all(a.success for a in summary.accounts):
        summary.marts_error = "not built: an account failed to sync"
        return summary
    say("loading app and ops tables, building the marts, publishing ...")
    started = time.perf_counter()
    with _quiet(quiet):
        result = defs.resolve_job_def("marts_job").execute_in_process(
            instance=instance,
            run_config={
                **_QUIET,
                **(
                    {"ops": {"dbt_models": {"config": {"full_refresh": True}}}}
                    if full_refresh
                    else {}
                ),
            },
            tags={TAG_TRIGGER: "cli"},
            raise_on_error=False,
        )
    summary.marts_run_id = result.run_id
    summary.marts_success = result.success
    summary.marts_seconds = time.perf_counter() - started
    if not result.success:
        summary.marts_error = _failure(result)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.path == ["serving", "marts"] and "rows" in mat.metadata:
            summary.published = dict(mat.metadata["rows"].value)
    return summary


# -- command line -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account",
        action="append",
        dest="accounts",
        metavar="ID",
        help="a Stripe account id (acct_...) to sync; repeat for several (default: all accounts)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="forget the accounts' cursors and list everything again; rebuild the marts in full",
    )
    parser.add_argument(
        "--no-marts",
        action="store_true",
        help="land the Stripe data only; skip dbt and publishing",
    )


def run(args: argparse.Namespace) -> int:
    from stripe_pipeline.accounts import AccountLookupError
    from stripe_pipeline.settings import ConfigError, load_settings
    from stripe_pipeline.stripe_source import StripeSourceError

    try:
        settings = load_settings()
        settings.require_secret_key()
        summary = run_all(
            settings,
            accounts=args.accounts,
            full_refresh=args.full_refresh,
            marts=not args.no_marts,
            progress=print,
        )
    except ConfigError as exc:
        print(f"sync failed: {exc}", file=sys.stderr)
        return 2
    except (AccountLookupError, StripeSourceError) as exc:
        print(f"sync failed: {exc}", file=sys.stderr)
        return 1
    print("summary:")
    for line in summary.lines():
        print(line)
    if not summary.success:
        print(
            "sync failed: see the errors above; the runs are in the Dagster UI "
            "(dagster dev with the same DAGSTER_HOME)",
            file=sys.stderr,
        )
        return 1
    return 0
