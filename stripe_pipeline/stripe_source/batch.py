"""Many Stripe accounts per dlt load: how a run over a batch of accounts is organised.

`sync_batch(settings, accounts, *, batch_id, platform_id, ...) -> BatchResult`

One dlt pipeline per batch (`stripe_batch_<hash of batch_id>`), writing the same `stripe` tables
as the per-account source. Each account keeps its own cursors and resume points: one row per
account in `stripe._sync_cursors` (`account_id`, `state` JSON), merged in the same load package
as that account's rows, so a load that lands the rows also lands the cursors and a load cut
short lands neither. Concurrent runs over different accounts (Postgres) therefore never
overwrite each other's cursors, as one shared dlt state would.

Per account, in order:

1. Incremental (every selected resource listed before, no backfill in progress): one
   `GET /v1/events` from the account's events cursor. No event that the last sync had not seen
   means nothing changed: the cursor moves on and nothing else is requested (the cost of an
   unchanged account is that one request). Otherwise the events land in `stripe.events`, every
   mutable resource replays them (no request per resource) and each resource lists what was
   created since its cursor.
2. First sync, a backfill still in progress, or an events cursor older than Stripe's 30-day
   retention: the resources are listed in `created` slices as by the per-account source.

Accounts are fetched concurrently (`accounts_at_once`), each under its own token bucket
(`STRIPE_RATE_LIMIT`), all under one cap on requests in flight and one HTTP session. An account
that fails (401/403 from a revoked or deauthorized account, retries exhausted) is reported in
its `AccountOutcome` and its cursors are not written; the others land. Accounts load in chunks
of `accounts_per_load`, so a killed run loses at most one chunk; the caller skips the accounts a
batch already landed when it runs again (see the Dagster asset).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.pipeline.exceptions import PipelineStepFailed

from stripe_pipeline.settings import Settings
from stripe_pipeline.stripe_source import (
    DEFAULT_PAGES_PER_RUN,
    RESOURCE_NAMES,
    _AccountContext,
    _pipeline,
    _resource_rows,
    finish_pending,
    payout_links,
)
from stripe_pipeline.stripe_source import settings as source_settings
from stripe_pipeline.stripe_source.columns import to_arrow
from stripe_pipeline.stripe_source.helpers import SyncStats, fetch_all, shared_session
from stripe_pipeline.stripe_source.settings import RESOURCES

logger = logging.getLogger(__name__)

CURSORS_TABLE = "_sync_cursors"
# Accounts fetched at the same time. Each has its own rate limit, so more accounts at once is
# more throughput until the machine (parsing, projection) is the limit: 16 keeps a 2-core
# machine busy while requests wait on the network.
ACCOUNTS_AT_ONCE = 16
# Requests in flight over all accounts of a batch: the global cap, on top of each account's own
# rate limit, so a thousand accounts never open a thousand connections at once.
REQUESTS_IN_FLIGHT = 32
# Accounts per load package: a kill loses at most this many accounts' work, and each load is
# one merge per table (a DuckDB merge costs ~0.1 s whatever its size, so fewer, larger loads).
ACCOUNTS_PER_LOAD = 250
# Not null, as the primary key's hints say (dlt warns about every load otherwise).
_CURSORS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("updated_at", pa.int64(), nullable=False),
    ]
)
# Tables a consumer may lag behind the fetching threads before they wait.
QUEUE_ITEMS = 64


@dataclass
class AccountOutcome:
    """What a batch did for one account."""

    account_id: str
    # unchanged (nothing new since its cursor), synced, failed
    status: str = "pending"
    stats: SyncStats = field(default_factory=SyncStats)
    error: str | None = None
    # False while a backfill still has pages to fetch (it continues in the next load).
    complete: bool = True
    seconds: float = 0.0

    @property
    def rows(self) -> dict[str, int]:
        return {name: s.rows for name, s in self.stats.resources.items() if name != "account"}

    @property
    def requests(self) -> int:
        return int(sum(s.requests for s in self.stats.resources.values()))


@dataclass
class BatchResult:
    outcomes: dict[str, AccountOutcome]
    loads: int
    seconds: float

    @property
    def failed(self) -> dict[str, str]:
        return {a: o.error or "failed" for a, o in self.outcomes.items() if o.status == "failed"}

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


def batch_pipeline_name(batch_id: str) -> str:
    # A killed run's pending load package is found again by a run with the same batch id.
    return "stripe_batch_" + hashlib.sha1(batch_id.encode()).hexdigest()[:12]


def make_batch_pipeline(
    settings: Settings, batch_id: str, pipelines_dir: Path | None = None
) -> dlt.Pipeline:
    return _pipeline(settings, batch_pipeline_name(batch_id), pipelines_dir)


# --------------------------------------------------------------------------- account state


def load_cursors(pipeline: dlt.Pipeline, accounts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every account's state row (one query; none before a first load)."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    wanted = set(accounts)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(CURSORS_TABLE)
            rows = client.execute_sql(f"select account_id, state from {table}")
    except DatabaseUndefinedRelation:
        return {}
    return {a: json.loads(s) for a, s in rows or () if a in wanted}


@dataclass
class _Account:
    """One account's work in a batch: its context, state and the events fetched for it."""

    account_id: str
    ctx: _AccountContext
    outcome: AccountOutcome
    state: dict[str, Any]
    events: list[dict[str, Any]] | None = None
    # Wall-clock second this sync fetched the account's events (or, on a first sync, started).
    started: int = 0
    boundary_ids: set[str] = field(default_factory=set)
    incremental: bool = False
    # The resources to sync when not all of them (an account with nothing new but pending rows).
    only: list[str] = field(default_factory=list)
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resource_state(self, name: str) -> dict[str, Any]:
        return self.state.setdefault("resources", {}).setdefault(name, {})

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if not self.failed:
                self.failed = True
                self.outcome.status = "failed"
                self.outcome.error = f"{type(exc).__name__}: {exc}"


def _listed(name: str, state: dict[str, Any]) -> bool:
    """Whether a resource was listed completely before (so events alone say what changed)."""
    if name == payout_links.RESOURCE:
        return "open_from" in state
    return state.get("cursor") is not None and "plan" not in state


def _prepare(account: _Account, selected: Sequence[str], full_refresh: bool) -> None:
    """Fetch the account's events since its cursor and decide what the sync must do."""
    overlap = source_settings.BOUNDARY_OVERLAP_SECONDS
    state = account.state
    if full_refresh:
        state.clear()
    resources = state.setdefault("resources", {})
    now = int(time.time())
    cursor = state.get("events_cursor")
    if cursor is not None and now - cursor > source_settings.EVENT_RETENTION_SECONDS:
        logger.warning(
            "account %s: the events cursor is %.1f days old, beyond Stripe's 30-day event "
            "retention; listing its resources again instead of replaying events",
            account.account_id,
            (now - cursor) / 86400,
        )
        for name in selected:
            if RESOURCES[name].mutable:
                resources.pop(name, None)
                account.outcome.stats.resource(name).relisted = True
        cursor = None
        state.pop("events_cursor", None)
    listed = all(_listed(name, resources.get(name, {})) for name in selected)
    account.started = now
    if cursor is None:
        return
    fetched_at = int(time.time())
    events = list(fetch_all(account.ctx.http, "/v1/events", {"created": {"gte": cursor}}, "events"))
    seen = set(state.get("seen") or ())
    account.started = fetched_at
    account.boundary_ids = {
        e["id"] for e in events if (e.get("created") or 0) >= fetched_at - overlap
    }
    account.incremental = listed
    if listed and all(e.get("id") in seen for e in events):
        # Nothing happened, except that rows listed while pending (balance transactions) may
        # have become available without an event: those resources alone are listed again.
        account.only = [
            name
            for name in selected
            if RESOURCES[name].refresh_pending and resources[name].get("pending_from") is not None
        ]
        if not account.only:
            account.outcome.status = "unchanged"
            return
    account.events = events


def _finish_state(account: _Account) -> dict[str, Any]:
    overlap = source_settings.BOUNDARY_OVERLAP_SECONDS
    state = account.state
    state["events_cursor"] = account.started - overlap
    state["seen"] = sorted(account.boundary_ids)
    return state


# --------------------------------------------------------------------------- fetching


_DONE = object()


def _interleave(
    jobs: Sequence[tuple[_Account, Callable[[], Iterator[pa.Table]]]], workers: int
) -> Iterator[pa.Table]:
    """Run every job's generator in a pool of threads and yield their tables as they come. A job
    that raises marks its account failed; the others go on."""
    if not jobs:
        return
    out: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_ITEMS)
    stop = threading.Event()

    def run(job: tuple[_Account, Callable[[], Iterator[pa.Table]]]) -> None:
        account, make = job
        try:
            if account.failed or stop.is_set():
                return
            for table in make():
                if stop.is_set():
                    return
                out.put(table)
        except Exception as exc:
            account.fail(exc)
            logger.warning("account %s failed: %s", account.account_id, account.outcome.error)
        finally:
            out.put(_DONE)

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))),
                              thread_name_prefix="stripe-batch")  # fmt: skip
    futures = [pool.submit(run, job) for job in jobs]
    try:
        finished = 0
        while finished < len(jobs):
            item = out.get()
            if item is _DONE:
                finished += 1
            else:
                yield item
    finally:
        # Reached also when the consumer stops early: free threads blocked on the full queue.
        stop.set()
        while not all(f.done() for f in futures):
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        pool.shutdown(wait=True)


def _account_rows(account: _Account, name: str) -> Iterator[pa.Table]:
    spec = RESOURCES[name]
    state = account.resource_state(name)
    overlap = source_settings.BOUNDARY_OVERLAP_SECONDS
    if name == "events" and account.incremental and account.events is not None:
        # The events fetched up front are this resource's listing since its cursor.
        stats = account.outcome.stats.resource(name)
        state["cursor"] = account.started - overlap
        if account.events:
            table = to_arrow("events", account.events, account.account_id)
            stats.rows += table.num_rows
            yield table
        return
    if name == payout_links.RESOURCE:
        ctx = account.ctx
        yield from payout_links.payout_link_rows(
            ctx.http, account.account_id, account.outcome.stats, ctx.clock, state=state
        )
        return
    for table in _resource_rows(account.ctx, spec, state=state, events=account.events):
        if name == "events" and table.num_rows:
            # A first listing's newest events are the boundary the next sync must not count
            # as new.
            recent = pc.greater_equal(table.column("created"), account.started - overlap)
            account.boundary_ids.update(table.filter(recent).column("id").to_pylist())
        yield table
    # The batch keeps one events cursor per account, not one per resource.
    state.pop("events_cursor", None)


def _batch_source(
    accounts: Sequence[_Account],
    remaining: dict[str, list[str]],
    workers: int,
    unchanged: Sequence[_Account],
) -> Any:
    names = [n for n in RESOURCE_NAMES if any(n in remaining[a.account_id] for a in accounts)]

    def rows_of(name: str) -> Callable[[], Iterator[pa.Table]]:
        def rows() -> Iterator[pa.Table]:
            jobs = [
                (a, _bind(_account_rows, a, name))
                for a in accounts
                if not a.failed and name in remaining[a.account_id]
            ]
            yield from _interleave(jobs, workers)

        return rows

    def cursors() -> Iterator[pa.Table]:
        # Last resource: the source extracts resources one after another (fifo), so every
        # account's rows are extracted before its cursors, and a failed account (whose rows may
        # be partly extracted) keeps its old cursors.
        done = [a for a in [*accounts, *unchanged] if not a.failed]
        if not done:
            return
        now = int(time.time())
        yield pa.table(
            {
                "account_id": [a.account_id for a in done],
                "state": [json.dumps(_finish_state(a), sort_keys=True) for a in done],
                "updated_at": pa.array([now] * len(done), pa.int64()),
            },
            schema=_CURSORS_SCHEMA,
        )

    @dlt.source(name="stripe", max_table_nesting=0)
    def stripe() -> list[Any]:
        resources = [
            dlt.resource(
                rows_of(name),
                name=name,
                table_name=name,
                write_disposition=RESOURCES[name].write_disposition,
                primary_key=RESOURCES[name].primary_key,
                max_table_nesting=0,
            )
            for name in names
        ]
        resources.append(
            dlt.resource(
                cursors,
                name=CURSORS_TABLE,
                table_name=CURSORS_TABLE,
                write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                primary_key="account_id",
            )
        )
        return resources

    return stripe()


def _bind(fn: Callable[..., Iterator[pa.Table]], *args: Any) -> Callable[[], Iterator[pa.Table]]:
    return lambda: fn(*args)


def _stripe_error(exc: BaseException) -> BaseException:
    from stripe_pipeline.stripe_source import _stripe_cause

    return _stripe_cause(exc) or exc


def sync_batch(
    settings: Settings,
    accounts: Sequence[str],
    *,
    batch_id: str,
    platform_id: str,
    resources: Sequence[str] | None = None,
    full_refresh: bool = False,
    pipelines_dir: Path | None = None,
    accounts_at_once: int = ACCOUNTS_AT_ONCE,
    requests_in_flight: int = REQUESTS_IN_FLIGHT,
    accounts_per_load: int = ACCOUNTS_PER_LOAD,
    max_pages_per_run: int | None = DEFAULT_PAGES_PER_RUN,
    on_loaded: Callable[[list[AccountOutcome]], None] | None = None,
) -> BatchResult:
    """Sync `accounts` (their Dagster partition keys; `platform_id` is synced without a
    `Stripe-Account` header) into the warehouse; see the module docstring.

    `on_loaded` is called after each load with the outcomes of the accounts it landed (and of
    those that failed), so the caller can record them before the next chunk starts.
    """
    started = time.monotonic()
    selected = [n for n in RESOURCE_NAMES if resources is None or n in resources]
    pipeline = make_batch_pipeline(settings, batch_id, pipelines_dir)
    if finish_pending(pipeline):
        logger.info("batch %s: loaded the package an interrupted run left behind", batch_id)
    states = load_cursors(pipeline, accounts)
    session = shared_session(settings.api_base, requests_in_flight)
    in_flight = threading.BoundedSemaphore(requests_in_flight)
    outcomes: dict[str, AccountOutcome] = {}
    loads = 0
    order = list(dict.fromkeys(accounts))
    for first in range(0, len(order), accounts_per_load):
        chunk: list[_Account] = []
        for account_id in order[first : first + accounts_per_load]:
            stats = SyncStats(account_id=account_id)
            ctx = _AccountContext(
                settings,
                account_id,
                stats,
                max_pages_per_run,
                platform_id=platform_id,
                session=session,
                in_flight=in_flight,
            )
            outcome = outcomes[account_id] = AccountOutcome(account_id=account_id, stats=stats)
            chunk.append(_Account(account_id, ctx, outcome, dict(states.get(account_id) or {})))
        loads += _sync_chunk(settings, pipeline, chunk, selected, full_refresh, accounts_at_once)
        if on_loaded is not None:
            on_loaded([a.outcome for a in chunk])
    # Nothing is pending now: the working folder is only needed to resume a killed batch.
    shutil.rmtree(pipeline.working_dir, ignore_errors=True)
    return BatchResult(outcomes=outcomes, loads=loads, seconds=time.monotonic() - started)


# Any fixed number: the key of the Postgres advisory lock that batch runs take to load.
_LOAD_LOCK_KEY = 0x5752_1FE0


@contextlib.contextmanager
def load_lock(settings: Settings) -> Iterator[None]:
    """On Postgres, one batch run loads at a time (fetching, the long part, stays concurrent):
    two runs creating or altering the same new table at once would fail one of them. DuckDB
    runs already take turns (the `warehouse` pool of one)."""
    if not settings.on_postgres:
        yield
        return
    import psycopg2

    con = psycopg2.connect(settings.warehouse_url)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (_LOAD_LOCK_KEY,))
        yield
    finally:
        con.close()  # ends the session, which releases the lock


def _sync_chunk(
    settings: Settings,
    pipeline: dlt.Pipeline,
    chunk: list[_Account],
    selected: list[str],
    full_refresh: bool,
    workers: int,
) -> int:
    clock = {a.account_id: time.monotonic() for a in chunk}

    def prepare(account: _Account) -> None:
        try:
            _prepare(account, selected, full_refresh)
        except Exception as exc:
            account.fail(exc)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="stripe-probe") as pool:
        list(pool.map(prepare, chunk))
    unchanged = [a for a in chunk if a.outcome.status == "unchanged"]
    active = [a for a in chunk if not a.failed and a.outcome.status != "unchanged"]
    loads = 0
    remaining = {a.account_id: list(a.only or selected) for a in active}
    while True:
        source = _batch_source(active, remaining, workers, unchanged)
        try:
            pipeline.extract(source, loader_file_format="parquet")
            pipeline.normalize()
            with load_lock(settings):
                pipeline.load()
        except PipelineStepFailed as exc:
            raise _stripe_error(exc) from exc
        loads += 1
        for account in active:
            if account.failed:
                continue
            pending = [
                n for n in remaining[account.account_id]
                if not account.outcome.stats.resource(n).complete
            ]  # fmt: skip
            remaining[account.account_id] = pending
            # A continued backfill lists its remaining slices; the events were replayed already.
            account.events = None
            account.incremental = False
        active = [a for a in active if not a.failed and remaining[a.account_id]]
        unchanged = []
        if not active:
            break
        logger.info("backfill continues for %d accounts", len(active))
    for account in chunk:
        outcome = account.outcome
        if outcome.status == "pending":
            outcome.status = "synced"
        outcome.seconds = time.monotonic() - clock[account.account_id]
    return loads
