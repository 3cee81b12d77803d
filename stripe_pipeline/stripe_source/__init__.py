"""The Stripe dlt source: one Stripe account per run into the warehouse's `stripe` dataset.

Public interface
----------------
`stripe_source(account_id=None, settings=None, *, max_pages_per_run=None, stats=None)`
    -> DltSource. Resources (one table each, columns as in docs/architecture.md): products,
    prices, payment_intents, charges, refunds, disputes, balance_transactions, payouts,
    payout_balance_transactions, invoice_payments, invoices, invoice_line_items, events. `account_id=None` (or the platform's own id) is the platform's
    own account: no `Stripe-Account` header, its id (from GET /v1/account) in every row's
    `account_id`. Building the source calls nothing; Stripe is first called when it runs.
    `max_pages_per_run` caps the pages each resource fetches in one run (None: no cap); a capped
    resource reports `complete=False` and resumes where it stopped on the next run. Use a cap
    (DEFAULT_PAGES_PER_RUN, ~100k rows) for backfills: it bounds what a kill loses and the size
    of each DuckDB merge (DuckDB runs under DUCKDB_MEMORY_LIMIT). `stats`: a `SyncStats` to fill.

`make_pipeline(settings, account_id, pipelines_dir=None) -> dlt.Pipeline`
    The warehouse (`warehouse_destination(settings)`: DuckDB at `settings.warehouse_path`, or
    Postgres at `settings.warehouse_url`), dataset `stripe`, pipeline `stripe_<account_id>`, so
    cursors and resume points are per account. Pipeline state lives under `pipelines_dir`
    (default `<settings.data_dir>/dlt_pipelines`) and in the warehouse (`_dlt_pipeline_state`).

`sync_account(settings, account_id=None, ...) -> SyncResult`
    Builds both and runs until every resource is complete: finishes (or loads) packages a killed
    run left behind, then runs the source in chunks of `max_pages_per_run` pages per resource, so
    a kill -9 loses at most one chunk. `SyncResult.stats` holds per-resource `ResourceStats`.

`source_stats(source) -> SyncStats`
    The stats collector a source fills while it runs (rows, slices, requests, retries, http_429,
    seconds, events_replayed, relisted, complete per resource; the GET /v1/account lookups count
    under `account`). A wrapper that runs the source itself (Dagster's `@dlt_assets`) passes its
    own `stats=SyncStats()` or reads `source_stats(source).as_dict()` after the run (it survives
    `with_resources` and copies). Call `finish_pending(pipeline)` before such a run: dlt's `run`
    only loads the packages a killed run left behind and then returns without extracting.

Many accounts per load, each with its own cursors: `stripe_source.batch.sync_batch` (what the
Dagster assets run).

`resolve_account_id(settings, account_id=None) -> str`, `finish_pending(pipeline) -> bool`,
`StripeSourceError` / `StripeAccessError` (401/403: the message names the account, the endpoint
and what to do; never the key), `RESOURCE_NAMES`, `DEFAULT_PAGES_PER_RUN`.

How rows stay exact and current
-------------------------------
Backfills are cut into `created` slices fetched in parallel under one token bucket per account
(`settings.requests_per_second`). After each page, the fetched part of its slice is recorded in
the resource's dlt state, which dlt commits in the same load package as the rows: a killed run
resumes from the last committed page and merging on `(account_id, id)` removes the overlap.
Mutable objects (products, prices, payment_intents, charges, refunds, disputes, invoices, line
items) are kept current by replaying `/v1/events` from a stored cursor: each event's
`data.object` is projected and merged; `*.deleted` events set `is_deleted`. A cursor older than
Stripe's 30-day event retention triggers a full re-listing of that resource (stats `relisted`,
and a warning in the log). Events load on a `created` cursor with dlt's `insert-only` merge, i.e.
append that skips ids already present, so the boundary second re-listed by the next run, or a
load job retried after a kill, never duplicates a row. Balance transactions have no events but
change once: `pending` to `available` (or a bank debit's `payment` to failed, with a new
`payment_failure_refund`). They load on a `created` cursor that never passes the oldest one still
pending, and merge on the key, so each run lists again only the window from that one (stats
`pending_relisted`) and its rows update in place. A type Stripe adds later lands as it is.
`payout_balance_transactions` is built by `payout_links` (once per settled automatic payout).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from stripe_pipeline.settings import Settings, load_settings
from stripe_pipeline.stripe_source import payout_links
from stripe_pipeline.stripe_source import settings as source_settings
from stripe_pipeline.stripe_source.columns import to_arrow
from stripe_pipeline.stripe_source.helpers import (
    Interval,
    ResourceStats,
    SliceFetcher,
    StripeAccessError,
    StripeHttp,
    StripeSourceError,
    SyncStats,
    fetch_all,
    merge_intervals,
    subtract_intervals,
)
from stripe_pipeline.stripe_source.settings import RESOURCES, ResourceSpec
from stripe_pipeline.token_bucket import TokenBucket

__all__ = [
    "DEFAULT_PAGES_PER_RUN",
    "RESOURCE_NAMES",
    "ResourceStats",
    "StripeAccessError",
    "StripeSourceError",
    "SyncResult",
    "SyncStats",
    "finish_pending",
    "make_pipeline",
    "resolve_account_id",
    "source_stats",
    "stripe_source",
    "sync_account",
]

logger = logging.getLogger(__name__)

RESOURCE_NAMES = source_settings.RESOURCE_NAMES
# Pages per resource per run in `sync_account`: ~100k rows per merge. A kill -9 loses at most one
# such chunk, and DuckDB's merge of a chunk fits in DUCKDB_MEMORY_LIMIT.
DEFAULT_PAGES_PER_RUN = 1000
DUCKDB_MEMORY_LIMIT = "320MB"

# An account created this long before its first object still has all its objects listed: the
# range before it is one (normally empty) slice of its own.
_ACCOUNT_CREATED_MARGIN = 86400


class _AccountContext:
    """Everything the resources of one source share: the HTTP client, bucket, stats, account id.

    A batch of accounts (`stripe_source.batch`) passes what it already knows: the platform's id
    (so a connected account costs no `GET /v1/account` of the platform), one HTTP session and
    one cap on requests in flight for all its accounts. The account's own `GET /v1/account` is
    then made only when a backfill needs its creation time.
    """

    def __init__(
        self,
        settings: Settings,
        account_id: str | None,
        stats: SyncStats,
        max_pages_per_run: int | None,
        clock: Callable[[], float] | None = None,
        *,
        platform_id: str | None = None,
        session: Any = None,
        in_flight: threading.Semaphore | None = None,
    ) -> None:
        self.settings = settings
        # Stripe's clock: the wall clock, except against an emulator whose clock a test moved.
        self.clock = clock or time.time
        self.requested_account_id = account_id
        self.stats = stats
        self.max_pages_per_run = max_pages_per_run
        self.platform_id = platform_id
        self.session = session
        self.in_flight = in_flight
        # Reentrant: the lazy account lookup for a backfill runs under it and uses `http`.
        self._lock = threading.RLock()
        self._http: StripeHttp | None = None
        self._account_id: str | None = None
        self._account_created: int | None = None
        self._looked_up = False

    def __deepcopy__(self, memo: dict[int, Any]) -> _AccountContext:
        return self

    def _client(self, header: str | None, bucket: TokenBucket, label: str) -> StripeHttp:
        return StripeHttp(
            self.settings.require_secret_key(),
            self.settings.api_base,
            header,
            bucket,
            self.stats,
            label,
            session=self.session,
            in_flight=self.in_flight,
        )

    def _connect(self) -> None:
        # Resolved on first use, not when the source is built: Dagster builds sources while
        # loading definitions, which must not call Stripe.
        bucket = TokenBucket(self.settings.requests_per_second)
        label = self.requested_account_id or "platform account"
        header = self.requested_account_id
        if self.platform_id is not None and header is not None:
            if header == self.platform_id:
                header = None
            self._account_id = self.requested_account_id
            self._http = self._client(header, bucket, self._account_id)
            return
        http = self._client(None, bucket, label)
        platform = http.get("/v1/account", {}, "account")
        if header is None or header == platform.get("id"):
            # The platform's own account: no Stripe-Account header.
            account = platform
            header = None
        else:
            http = self._client(header, bucket, label)
            account = http.get("/v1/account", {}, "account")
        self._account_id = account.get("id") or self.requested_account_id
        self._account_created = account.get("created")
        self._looked_up = True
        http.account_label = self._account_id or label
        self._http = http

    def _ensure(self) -> None:
        with self._lock:
            if self._http is None:
                self._connect()

    @property
    def http(self) -> StripeHttp:
        self._ensure()
        assert self._http is not None
        return self._http

    @property
    def account_id(self) -> str:
        self._ensure()
        assert self._account_id is not None
        return self._account_id

    def backfill_intervals(self, hi: int) -> list[Interval]:
        self._ensure()
        with self._lock:
            if not self._looked_up:
                self._account_created = self.http.get("/v1/account", {}, "account").get("created")
                self._looked_up = True
        start = (self._account_created or 0) - _ACCOUNT_CREATED_MARGIN
        if start <= 0:
            return [(0, hi)]
        return [(0, start), (start, hi)]


# --------------------------------------------------------------------------- projection


def _projector(ctx: _AccountContext, spec: ResourceSpec):
    if spec.name == "invoice_line_items":
        return lambda invoices: _line_items_table(ctx, spec, invoices)
    return lambda objects: to_arrow(spec.name, objects, ctx.account_id)


def _invoice_lines(ctx: _AccountContext, spec: ResourceSpec, invoice: dict[str, Any]) -> list:
    invoice_id = invoice.get("id")
    lines = invoice.get("lines")
    items = list(lines.get("data") or []) if isinstance(lines, dict) else []
    if not isinstance(lines, dict) or lines.get("has_more"):
        # Invoices embed their first 10 lines; the rest (all, when not embedded) are paged on.
        params = {"starting_after": items[-1]["id"]} if items else {}
        path = f"/v1/invoices/{invoice_id}/lines"
        items.extend(fetch_all(ctx.http, path, params, spec.name))
    for item in items:
        if not item.get("invoice"):
            item["invoice"] = invoice_id
    return items


def _line_items_table(
    ctx: _AccountContext, spec: ResourceSpec, invoices: list[dict[str, Any]]
) -> pa.Table:
    lines = [line for invoice in invoices for line in _invoice_lines(ctx, spec, invoice)]
    return to_arrow("invoice_line_items", lines, ctx.account_id)


# --------------------------------------------------------------------------- events replay


@dataclass
class _Replay:
    latest: dict[str, tuple[dict[str, Any], bool]] = field(default_factory=dict)
    events: int = 0


def _replay_events(ctx: _AccountContext, spec: ResourceSpec, since: int) -> _Replay:
    """The newest snapshot of every object an event touched since `since` (and whether the
    newest event deleted it)."""
    types = [*spec.event_types, *spec.refetch_event_types]
    params = {"types": types, "created": {"gte": since}}
    return _replay_from(ctx, spec, fetch_all(ctx.http, "/v1/events", params, spec.name))


def _replay_from(
    ctx: _AccountContext, spec: ResourceSpec, events: Iterable[dict[str, Any]]
) -> _Replay:
    """`_replay_events` over events already fetched (newest first, so the first one seen per id
    wins); events of other types are ignored. A batch fetches an account's events once and
    replays every resource from them."""
    replay = _Replay()
    types = {*spec.event_types, *spec.refetch_event_types}
    deleted_types = set(spec.deleted_event_types)
    refetch_types = set(spec.refetch_event_types)
    refetch: set[str] = set()
    for event in events:
        if event.get("type") not in types:
            continue
        replay.events += 1
        obj = (event.get("data") or {}).get("object")
        if not isinstance(obj, dict):
            continue
        if event.get("type") in refetch_types:
            related = obj.get(spec.refetch_field)
            related = related.get("id") if isinstance(related, dict) else related
            if isinstance(related, str):
                refetch.add(related)
            continue
        if obj.get("object") != spec.object_type:
            continue
        object_id = obj.get("id")
        if object_id and object_id not in replay.latest:
            replay.latest[object_id] = (obj, event.get("type") in deleted_types)
    params = {"expand": [e.removeprefix("data.") for e in spec.expand]} if spec.expand else {}
    for object_id in sorted(refetch):
        # Retrieved after every event above was fetched, so newer than any of their snapshots.
        obj = ctx.http.get(f"{spec.path}/{object_id}", params, spec.name)
        replay.latest[object_id] = (obj, obj.get("deleted") is True)
    return replay


def _replay_tables(ctx: _AccountContext, spec: ResourceSpec, replay: _Replay) -> Iterator[pa.Table]:
    items = list(replay.latest.values())
    step = source_settings.ROWS_PER_TABLE
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        objects = [obj for obj, _ in chunk]
        if spec.name == "invoice_line_items":
            yield _line_items_table(ctx, spec, objects)
        else:
            yield to_arrow(spec.name, objects, ctx.account_id, [deleted for _, deleted in chunk])


# --------------------------------------------------------------------------- resources


def _resource_rows(
    ctx: _AccountContext,
    spec: ResourceSpec,
    state: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Iterator[pa.Table]:
    """List what was created since the cursor (the whole history on the first run), then merge
    the newest snapshot of everything events say changed.

    `state` defaults to the resource's dlt state; a batch passes the account's own. `events`:
    the account's events since its cursor, fetched once by a batch; when given, they are
    replayed instead of this resource fetching its own and its `events_cursor` is left to the
    batch, which keeps one events cursor per account."""
    state = dlt.current.resource_state(spec.name) if state is None else state
    stats = ctx.stats.resource(spec.name)
    started = time.monotonic()
    now = int(ctx.clock())
    overlap = source_settings.BOUNDARY_OVERLAP_SECONDS

    plan = state.get("plan")
    cursor = state.get("cursor")
    events_cursor = state.get("events_cursor")
    replay: _Replay | None = None

    expired = (
        events_cursor is not None and now - events_cursor > source_settings.EVENT_RETENTION_SECONDS
    )
    if spec.mutable and plan is None and expired:
        logger.warning(
            "%s of account %s: the events cursor is %.1f days old, beyond Stripe's 30-day "
            "event retention; listing the whole resource again instead of replaying events",
            spec.name,
            ctx.account_id,
            (now - events_cursor) / 86400,
        )
        stats.relisted = True
        cursor = None
        events_cursor = None
        state.pop("cursor", None)
        state.pop("events_cursor", None)

    if plan is None:
        if cursor is None:
            intervals = ctx.backfill_intervals(now + 1)
        else:
            lo = cursor - overlap
            pending_from = state.get("pending_from")
            if spec.refresh_pending and pending_from is not None and pending_from < lo:
                # Rows still pending when last listed change status (and available_on): list
                # again from the oldest of them; the merge on the key updates them in place.
                lo = pending_from
                stats.pending_relisted = True
            intervals = [(lo, now + 1)]
        plan = {
            "intervals": [list(i) for i in intervals],
            "done": [],
            # Changes made while the listing runs are replayed from here once it completes.
            "events_from": now - overlap,
        }
        state["plan"] = plan

    if spec.mutable and events is not None:
        replay = _replay_from(ctx, spec, events)
        stats.events_replayed += replay.events
    elif spec.mutable and events_cursor is not None:
        # Replay before listing: a listed row is at least as new as any event fetched before it.
        replay_started = int(ctx.clock()) - overlap
        replay = _replay_events(ctx, spec, events_cursor)
        stats.events_replayed += replay.events
        state["events_cursor"] = replay_started

    done: list[Interval] = [tuple(i) for i in plan["done"]]
    remaining = [
        piece
        for interval in plan["intervals"]
        for piece in subtract_intervals(tuple(interval), done)
    ]
    fetcher = SliceFetcher(
        ctx.http,
        spec.path,
        {"expand": list(spec.expand)} if spec.expand else {},
        spec.name,
        _projector(ctx, spec),
        max_pages=ctx.max_pages_per_run,
    )
    buffered: list[pa.Table] = []
    buffered_rows = 0
    for page in fetcher.run(remaining):
        done = merge_intervals([*done, page.covered])
        if page.table.num_rows == 0:
            continue
        if spec.refresh_pending:
            _note_oldest_pending(plan, page.table)
        if replay is not None and replay.latest:
            for object_id in page.table.column("invoice" if spec.name == "invoice_line_items"
                                               else "id").to_pylist():  # fmt: skip
                replay.latest.pop(object_id, None)
        buffered.append(page.table)
        buffered_rows += page.table.num_rows
        if buffered_rows >= source_settings.ROWS_PER_TABLE:
            stats.rows += buffered_rows
            plan["done"] = [list(i) for i in done]
            yield pa.concat_tables(buffered)
            buffered, buffered_rows = [], 0
    if buffered:
        stats.rows += buffered_rows
        yield pa.concat_tables(buffered)
    plan["done"] = [list(i) for i in done]

    stats.complete = not fetcher.stopped_early
    if stats.complete:
        state["cursor"] = max(hi for _, hi in plan["intervals"]) - 1
        if spec.mutable and "events_cursor" not in state and events is None:
            state["events_cursor"] = plan["events_from"]
        if spec.refresh_pending:
            if plan.get("pending_min") is None:
                state.pop("pending_from", None)
            else:
                state["pending_from"] = plan["pending_min"]
        state.pop("plan", None)

    if replay is not None:
        for table in _replay_tables(ctx, spec, replay):
            stats.rows += table.num_rows
            yield table
    stats.seconds += time.monotonic() - started


def _note_oldest_pending(plan: dict[str, Any], table: pa.Table) -> None:
    pending = pc.equal(table.column("status"), "pending")
    oldest = pc.min(pc.filter(table.column("created"), pending)).as_py()
    if oldest is not None and (plan.get("pending_min") is None or oldest < plan["pending_min"]):
        plan["pending_min"] = oldest


def _make_resource(ctx: _AccountContext, spec: ResourceSpec) -> Any:
    def rows() -> Iterator[pa.Table]:
        if spec.name == "payout_balance_transactions":
            yield from payout_links.payout_link_rows(ctx.http, ctx.account_id, ctx.stats, ctx.clock)
        else:
            yield from _resource_rows(ctx, spec)

    return dlt.resource(
        rows,
        name=spec.name,
        table_name=spec.name,
        write_disposition=spec.write_disposition,
        primary_key=spec.primary_key,
        max_table_nesting=0,
    )


def stripe_source(
    account_id: str | None = None,
    settings: Settings | None = None,
    *,
    max_pages_per_run: int | None = None,
    stats: SyncStats | None = None,
    clock: Callable[[], float] | None = None,
) -> DltSource:
    """The dlt source for one Stripe account (None: the platform's own account). `clock`:
    Stripe's time in Unix seconds (default the wall clock; an emulator's in tests)."""
    settings = settings or load_settings()
    collector = stats or SyncStats(account_id=account_id)
    ctx = _AccountContext(settings, account_id, collector, max_pages_per_run, clock)

    @dlt.source(name="stripe", max_table_nesting=0)
    def stripe() -> list[Any]:
        return [_make_resource(ctx, spec) for spec in RESOURCES.values()]

    source = stripe()
    # On the resources, not only the source: `with_resources` and Dagster return copies of the
    # source, and a resource's attributes survive those copies (SyncStats copies as itself).
    for resource in source.resources.values():
        resource.stripe_stats = collector
    source.stripe_stats = collector
    return source


def source_stats(source: DltSource) -> SyncStats:
    """The stats collector of a source built by `stripe_source` (filled while it runs), also
    after `with_resources` or any other copy."""
    collector = source.__dict__.get("stripe_stats")
    if collector is None:
        for resource in source.resources.values():
            collector = getattr(resource, "stripe_stats", None)
            if collector is not None:
                break
    if collector is None:
        raise ValueError("this source was not built by stripe_source(): it carries no stats")
    return collector


# --------------------------------------------------------------------------- pipeline


def _configure_dlt() -> None:
    # dlt reads these from the environment when a pipeline runs; setdefault lets a user's own
    # configuration win. Resources run one after another (each fetches with its own threads under
    # the account's one bucket); Arrow tables go to parquet files that DuckDB loads directly.
    defaults = {
        "EXTRACT__NEXT_ITEM_MODE": "fifo",
        "NORMALIZE__LOADER_FILE_FORMAT": "parquet",
        "DATA_WRITER__BUFFER_MAX_ITEMS": "20000",
        "DATA_WRITER__FILE_MAX_ITEMS": "500000",
        # A million-row backfill would otherwise keep every loaded parquet file on disk, and
        # the last merge batch in the staging dataset.
        "LOAD__DELETE_COMPLETED_JOBS": "true",
        # One merge at a time: two concurrent merges share DuckDB's memory limit and fail it.
        "LOAD__WORKERS": "1",
        "LOAD__TRUNCATE_STAGING_DATASET": "true",
        # Every row carries the load that wrote it (`_dlt_load_id`, added to each Arrow table as
        # it is extracted, no parquet rewrite): dbt's incremental `transactions` re-derives the
        # rows whose landed sources a newer load changed.
        "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
        "RUNTIME__LOG_LEVEL": os.environ.get("RUNTIME__LOG_LEVEL", "WARNING"),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def make_pipeline(
    settings: Settings, account_id: str, pipelines_dir: Path | None = None
) -> dlt.Pipeline:
    """The dlt pipeline of one account: the warehouse's dataset `stripe`."""
    return _pipeline(settings, f"stripe_{account_id}", pipelines_dir)


def _pipeline(settings: Settings, name: str, pipelines_dir: Path | None) -> dlt.Pipeline:
    _configure_dlt()
    pipelines_dir = Path(pipelines_dir or Path(settings.data_dir) / "dlt_pipelines")
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(pipelines_dir),
        destination=warehouse_destination(settings),
        dataset_name=source_settings.DATASET_NAME,
    )


def warehouse_destination(settings: Settings) -> Any:
    """dlt's destination for the warehouse: Postgres when WAREHOUSE_URL is set, else DuckDB."""
    if settings.warehouse_url:
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials(settings.warehouse_url)
        if credentials.password is None:
            # A server with trust or peer auth: dlt would report the password as missing.
            credentials.password = ""
        return dlt.destinations.postgres(credentials)
    warehouse = Path(settings.warehouse_path)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(
        {
            "database": str(warehouse),
            # DuckDB takes 80% of RAM by default; merges spill to disk beyond this instead,
            # which keeps a million-row backfill's memory flat.
            "global_config": {
                "memory_limit": DUCKDB_MEMORY_LIMIT,
                "preserve_insertion_order": False,
            },
        }
    )


def finish_pending(pipeline: dlt.Pipeline) -> bool:
    """Normalize and load the packages a killed run left behind; True if there were any.

    A package is only ever 'extracted' once its extract step finished, with the resource state
    (completed slices, cursors) inside it, so loading it keeps rows and resume points in step. A
    package cut short during extract never reached that point and is simply not loaded: its
    slices were not recorded, so the next run fetches them again.
    """
    if not pipeline.has_pending_data:
        return False
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    if pipeline.list_normalized_load_packages():
        pipeline.load()
    return True


def resolve_account_id(settings: Settings, account_id: str | None = None) -> str:
    """The Stripe account id a sync of `account_id` writes (None: the platform's own id)."""
    if account_id:
        return account_id
    ctx = _AccountContext(settings, None, SyncStats(), None)
    return ctx.account_id


def _add_phase_seconds(phases: dict[str, float], pipeline: dlt.Pipeline) -> None:
    trace = pipeline.last_trace
    for step in trace.steps if trace is not None else ():
        if step.finished_at is not None and step.step in ("extract", "normalize", "load"):
            seconds = (step.finished_at - step.started_at).total_seconds()
            phases[step.step] = phases.get(step.step, 0.0) + seconds


def _stripe_cause(exc: BaseException) -> StripeSourceError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StripeSourceError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@dataclass
class SyncResult:
    """What `sync_account` did: per-resource stats summed over its runs."""

    account_id: str
    complete: bool
    runs: int
    seconds: float
    recovered_pending: bool
    stats: SyncStats
    # Wall time per dlt step (extract includes fetching from Stripe), summed over the runs.
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, ResourceStats]:
        return self.stats.resources

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "complete": self.complete,
            "runs": self.runs,
            "seconds": round(self.seconds, 3),
            "recovered_pending": self.recovered_pending,
            "phase_seconds": self.phase_seconds,
            "resources": self.stats.as_dict(),
            "totals": self.stats.totals(),
        }


def sync_account(
    settings: Settings,
    account_id: str | None = None,
    *,
    pipelines_dir: Path | None = None,
    resources: tuple[str, ...] | list[str] | None = None,
    max_pages_per_run: int | None = DEFAULT_PAGES_PER_RUN,
    max_runs: int | None = None,
    clock: Callable[[], float] | None = None,
) -> SyncResult:
    """Sync one account until every selected resource is complete (or `max_runs` is reached)."""
    started = time.monotonic()
    resolved = resolve_account_id(settings, account_id)
    pipeline = make_pipeline(settings, resolved, pipelines_dir)
    recovered = finish_pending(pipeline)
    total = SyncStats(account_id=resolved)
    selected = list(resources or RESOURCE_NAMES)
    phases: dict[str, float] = {}
    runs = 0
    while selected:
        run_stats = SyncStats(account_id=resolved)
        source = stripe_source(
            account_id,
            settings,
            max_pages_per_run=max_pages_per_run,
            stats=run_stats,
            clock=clock,
        ).with_resources(*selected)
        try:
            pipeline.run(source, loader_file_format="parquet")
        except PipelineStepFailed as exc:
            # dlt wraps a resource's error twice; the Stripe error underneath is the one that
            # says which account and what to do.
            cause = _stripe_cause(exc)
            if cause is not None:
                raise cause from exc
            raise
        runs += 1
        _add_phase_seconds(phases, pipeline)
        total.merge(run_stats)
        selected = [name for name in selected if not run_stats.resource(name).complete]
        if max_runs is not None and runs >= max_runs:
            break
    return SyncResult(
        account_id=resolved,
        complete=not selected,
        runs=runs,
        seconds=time.monotonic() - started,
        recovered_pending=recovered,
        stats=total,
        phase_seconds={k: round(v, 3) for k, v in phases.items()},
    )
