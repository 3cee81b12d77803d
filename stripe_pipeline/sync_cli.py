"""`stripe-pipeline sync`: run the Dagster assets from the command line.

Syncs the named Stripe accounts (all accounts to sync when none is named: the platform's own,
plus the connected accounts in the ops store when STRIPE_CONNECT_ENABLED is on) as one batch in
one Dagster run over their partitions, which then loads the app and ops tables, builds the dbt
marts and publishes them: the run the nightly schedule makes. Runs are recorded on the Dagster instance at DAGSTER_HOME (an ephemeral one when it is
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
        many = len(self.accounts) > 20
        for a in self.accounts:
            if many and a.success:
                continue  # a thousand accounts: list the failed ones, count the rest
            state = "ok" if a.success else "FAILED"
            out.append(
                f"  {a.account_id}: {state}, {sum(a.rows.values())} rows in {a.seconds:.1f}s"
                + (f" ({a.error})" if a.error else "")
            )
        if many:
            ok = [a for a in self.accounts if a.success]
            rows = sum(sum(a.rows.values()) for a in ok)
            out.append(f"  {len(ok)} of {len(self.accounts)} accounts ok, {rows} rows")
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
        "WAREHOUSE_URL": settings.warehouse_url,
        "STRIPE_SYNC_RUNS": str(settings.sync_runs),
        "STRIPE_SYNC_ACCOUNTS_PER_LOAD": str(settings.sync_accounts_per_load),
        "STRIPE_SYNC_ACCOUNTS_AT_ONCE": str(settings.sync_accounts_at_once),
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


def partition_groups(known: Sequence[str], accounts: Sequence[str]) -> list[list[str]]:
    """`accounts` cut into runs of neighbours in the instance's partition order: a run covers a
    partition range, so accounts with others between them need a run each."""
    position = {key: i for i, key in enumerate(known)}
    groups: list[list[str]] = []
    for account in sorted(accounts, key=position.__getitem__):
        if groups and position[account] == position[groups[-1][-1]] + 1:
            groups[-1].append(account)
        else:
            groups.append([account])
    return groups


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

    The accounts are one batch: one run of `stripe_sync_job` over their partition range (the
    nightly schedule's run), or of `stripe_ingest_job` without the marts. Accounts that are not
    neighbours in the instance's partition order take one ingest run per range, then one
    `marts_job` run. A failed account is reported and the others still land; the marts are
    built from what landed. `quiet` keeps dbt's own output (which dagster-dbt copies to stdout)
    off the terminal; the Dagster event log keeps it.
    """
    from stripe_pipeline.accounts import accounts_to_sync
    from stripe_pipeline.definitions import build_definitions
    from stripe_pipeline.defs.automation.jobs import partition_range_tags
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
    known = list(instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name))
    new = [a for a in accounts if a not in known]
    if new:
        instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, new)
        known += new

    resource = PipelineSettings(env_overrides=settings_env(settings), dotenv_path=os.devnull)
    defs = build_definitions(
        resources={"settings": resource, "ops_store": OpsStoreResource(settings=resource)}
    )
    stripe_config: dict[str, Any] = {"full_refresh": True} if full_refresh else {}
    dbt_config: dict[str, Any] = {"full_refresh": True} if full_refresh else {}
    groups = partition_groups(known, accounts) if accounts else []
    # One run over one partition builds its marts itself; a batch of several is an ingest run,
    # then one marts run (see defs/ingestion/batch_run.py: what the nightly schedule does too).
    one_run = marts and len(groups) == 1 and len(groups[0]) == 1
    summary = RunSummary()
    shown = ", ".join(accounts) if len(accounts) <= 10 else f"{len(accounts)} accounts"
    say(f"syncing {shown} in {len(groups)} run(s) ...")
    run_ids: list[str] = []
    run_errors: dict[str, str] = {}
    for group in groups:
        job = "stripe_sync_job" if one_run else "stripe_ingest_job"
        ops: dict[str, Any] = {"stripe_source": {"config": stripe_config}}
        if one_run:
            ops["dbt_models"] = {"config": dbt_config}
        started = time.perf_counter()
        with _quiet(quiet):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance,
                run_config={**_QUIET, "ops": ops},
                tags={**partition_range_tags(group), TAG_TRIGGER: "cli"},
                raise_on_error=False,
            )
        run_ids.append(result.run_id)
        if not result.success:
            run_errors[result.run_id] = _failure(result)
        seconds = time.perf_counter() - started
        say(f"  {len(group)} account(s) in {seconds:.1f}s (run {result.run_id})")
        if one_run:
            summary.marts_run_id = result.run_id
            summary.marts_success = result.success
            summary.marts_seconds = seconds
            if not result.success:
                summary.marts_error = _failure(result)
            summary.published = _published(result)
        elif not result.success:
            say(f"  run {result.run_id} failed: {_failure(result)}")
    summary.accounts = _account_runs(settings, accounts, run_ids, run_errors)
    for run in summary.accounts:
        if not run.success:
            say(f"  {run.account_id}: FAILED: {run.error}")

    if not marts:
        summary.marts_success = True
        return summary
    if one_run:
        return summary
    if not any(a.success for a in summary.accounts):
        summary.marts_error = "not built: no account synced"
        return summary
    say("loading app and ops tables, building the marts, publishing ...")
    started = time.perf_counter()
    with _quiet(quiet):
        result = defs.resolve_job_def("marts_job").execute_in_process(
            instance=instance,
            run_config={**_QUIET, "ops": {"dbt_models": {"config": dbt_config}}},
            tags={TAG_TRIGGER: "cli"},
            raise_on_error=False,
        )
    summary.marts_run_id = result.run_id
    summary.marts_success = result.success
    summary.marts_seconds = time.perf_counter() - started
    if not result.success:
        summary.marts_error = _failure(result)
    summary.published = _published(result)
    return summary


def _published(result: Any) -> dict[str, int]:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.path == ["serving", "marts"] and "rows" in mat.metadata:
            return dict(mat.metadata["rows"].value)
    return {}


def _account_runs(
    settings: Settings, accounts: Sequence[str], run_ids: list[str], run_errors: dict[str, str]
) -> list[AccountRun]:
    """Each account's outcome as its run recorded it in the ops store (connector_sync_state)."""
    from datetime import datetime

    from stripe_pipeline.defs.ingestion.sync_record import SYNC_STATE_SOURCE
    from stripe_pipeline.ops_store import OpsStore

    with OpsStore.open(settings.ops_database_url) as store:
        states = {
            s.account_id: s.cursor
            for s in store.sync_states()
            if s.source == SYNC_STATE_SOURCE and s.cursor.get("run_id") in run_ids
        }
    runs = []
    for account_id in accounts:
        cursor = states.get(account_id)
        if cursor is None:
            runs.append(AccountRun(account_id, run_ids[-1] if run_ids else "", False, 0.0,
                                   error="not synced: its run failed before reaching it"))  # fmt: skip
            continue
        seconds = 0.0
        if cursor.get("started_at") and cursor.get("finished_at"):
            seconds = (
                datetime.fromisoformat(cursor["finished_at"])
                - datetime.fromisoformat(cursor["started_at"])
            ).total_seconds()
        error = cursor.get("error")
        if cursor.get("status") == "running":
            # The run stopped before recording the account's end: its own failure says why.
            error = run_errors.get(cursor["run_id"], "its run ended before the account finished")
        runs.append(
            AccountRun(
                account_id=account_id,
                run_id=cursor["run_id"],
                success=cursor.get("status") == "succeeded",
                seconds=seconds,
                rows=dict(cursor.get("rows") or {}),
                error=error,
            )
        )
    return runs


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
