"""HTTP, retries, paging and slicing for the Stripe source.

Requests go through the stripe SDK's HTTP stack (its auth, `Stripe-Account` and pinned
`Stripe-Version` headers, its connection pooling) but not through its object model: building a
StripeObject per row costs more than the rest of the pipeline together, so list bodies are parsed
with orjson into plain dicts. The SDK's own retries are off; this module owns the retry policy so
that every retry and every 429 is counted.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import requests
import requests.adapters
import requests.utils
import stripe
import urllib3

from stripe_pipeline.stripe_source import settings as source_settings
from stripe_pipeline.token_bucket import TokenBucket

logger = logging.getLogger(__name__)

_SECRET_PATTERN = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+")


def scrub_secrets(text: str) -> str:
    """Stripe echoes (masked) keys in some error messages; nothing key-like reaches our errors."""
    return _SECRET_PATTERN.sub("[redacted key]", text)


class StripeSourceError(RuntimeError):
    """A request the pipeline cannot complete; the message names the account and endpoint."""


class StripeAccessError(StripeSourceError):
    """401/403: retrying cannot help, so the run fails at once."""


# --------------------------------------------------------------------------- stats


@dataclass
class ResourceStats:
    """What one resource did in one run; the Dagster assets publish these as run metadata."""

    rows: int = 0
    slices: int = 0
    requests: int = 0
    retries: int = 0
    http_429: int = 0
    seconds: float = 0.0
    events_replayed: int = 0
    # True when the events cursor was older than Stripe's 30-day retention, so the resource was
    # listed again in full instead of replayed.
    relisted: bool = False
    # True when balance transactions were listed again from the oldest one still pending.
    pending_relisted: bool = False
    # False while a backfill still has slices to fetch (a run stopped by its page budget).
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class SyncStats:
    """Thread-safe per-resource counters for one account; read after (or during) a run."""

    account_id: str | None = None
    resources: dict[str, ResourceStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> SyncStats:
        # dlt and Dagster copy sources; the copy must keep counting into the same collector.
        return self

    def resource(self, name: str) -> ResourceStats:
        with self._lock:
            return self.resources.setdefault(name, ResourceStats())

    def add(self, name: str, **increments: float) -> None:
        with self._lock:
            stats = self.resources.setdefault(name, ResourceStats())
            for key, value in increments.items():
                setattr(stats, key, getattr(stats, key) + value)

    def merge(self, other: SyncStats) -> None:
        for name, theirs in other.resources.items():
            ours = self.resource(name)
            for key in ("rows", "slices", "requests", "retries", "http_429", "seconds",
                        "events_replayed"):  # fmt: skip
                setattr(ours, key, getattr(ours, key) + getattr(theirs, key))
            ours.relisted = ours.relisted or theirs.relisted
            ours.pending_relisted = ours.pending_relisted or theirs.pending_relisted
            ours.complete = theirs.complete

    def totals(self) -> dict[str, float]:
        keys = ("rows", "slices", "requests", "retries", "http_429", "events_replayed")
        return {k: sum(getattr(s, k) for s in self.resources.values()) for k in keys}

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: stats.as_dict() for name, stats in self.resources.items()}


# --------------------------------------------------------------------------- HTTP


class StripeHttp:
    """GET requests to one Stripe account, paced by that account's token bucket, with retries."""

    def __init__(
        self,
        api_key: str,
        api_base: str,
        stripe_account: str | None,
        bucket: TokenBucket,
        stats: SyncStats,
        account_label: str,
        *,
        session: requests.Session | None = None,
        in_flight: threading.Semaphore | None = None,
    ) -> None:
        """`session`: one shared by many accounts (a batch), else one of this account's own.
        `in_flight`: a cap on requests in flight shared by those accounts, on top of this
        account's own rate limit (`bucket`)."""
        self.account_label = account_label
        self.bucket = bucket
        self.stats = stats
        self.in_flight = in_flight
        client = stripe.StripeClient(
            api_key,
            stripe_account=stripe_account,
            stripe_version=source_settings.API_VERSION,
            base_addresses={"api": api_base},
            # The retry policy below honours Retry-After and Stripe-Should-Retry and counts
            # every attempt; the SDK's would retry silently (and not plain 429s).
            max_network_retries=0,
            http_client=stripe.RequestsClient(
                timeout=source_settings.REQUEST_TIMEOUT_SECONDS,
                session=session or _session(api_base),
                proxy=_environ_proxies(api_base),
            ),
        )
        # request_raw returns the undecoded body; the public raw_request would json.loads it into
        # OrderedDicts first, which costs more than everything the pipeline does with a row.
        self._requestor = client._requestor

    def get(self, path: str, params: Mapping[str, Any], resource: str) -> dict[str, Any]:
        """One GET, retried on 429, 5xx, lock timeouts and dropped connections."""
        attempt = 0
        while True:
            attempt += 1
            self.bucket.acquire()
            self.stats.add(resource, requests=1)
            try:
                with self.in_flight or contextlib.nullcontext():
                    body, status, headers = self._requestor.request_raw(
                        "get",
                        path,
                        params=dict(params),
                        base_address="api",
                        api_mode="V1",
                        usage=["stripe_pipeline"],
                    )
            except stripe.APIConnectionError as exc:
                self._retry_or_raise(
                    attempt, path, resource, None, f"connection failed ({type(exc).__name__})"
                )
                continue
            if status == 200:
                try:
                    return orjson.loads(body)
                except orjson.JSONDecodeError:
                    # A body cut short by a dropped connection: as retryable as the drop itself.
                    self._retry_or_raise(attempt, path, resource, None, "truncated response body")
                    continue
            self._handle_error(attempt, path, resource, status, headers, body)

    def _handle_error(
        self,
        attempt: int,
        path: str,
        resource: str,
        status: int,
        headers: Mapping[str, str],
        body: Any,
    ) -> None:
        account = self.account_label
        if status == 401:
            raise StripeAccessError(
                f"Stripe rejected the API key for account {account} (HTTP 401 on GET {path}). "
                "Check STRIPE_CLIENT_SECRET: it must be the platform's current secret key "
                "(sk_test_... or sk_live_...), not revoked or rolled."
            )
        if status == 403:
            raise StripeAccessError(
                f"The platform has no access to account {account} (HTTP 403 on GET {path}). "
                "The account may have disconnected the platform or the key may lack this "
                "permission: reconnect the account through Connect OAuth (or remove it from the "
                "connected accounts), and check that STRIPE_CLIENT_SECRET is not a restricted key."
            )
        should_retry = (headers.get("Stripe-Should-Retry") or "").lower()
        retryable = status == 429 or status >= 500 or status == 409
        if should_retry == "false":
            retryable = False
        elif should_retry == "true":
            retryable = True
        if status == 429:
            self.stats.add(resource, http_429=1)
        if retryable:
            retry_after = _retry_after_seconds(headers)
            # A rate limit (not a lock timeout) is per account: every thread of this account
            # waits, not just this one, or the others keep spending requests on more 429s.
            pause = status == 429 and _error_code(body) != "lock_timeout"
            self._retry_or_raise(
                attempt, path, resource, retry_after, f"HTTP {status}", pause_account=pause
            )
            return
        raise StripeSourceError(
            f"Stripe answered HTTP {status} to GET {path} for account {account}: "
            f"{_error_message(body)}"
        )

    def _retry_or_raise(
        self,
        attempt: int,
        path: str,
        resource: str,
        retry_after: float | None,
        reason: str,
        pause_account: bool = False,
    ) -> None:
        if attempt >= source_settings.MAX_ATTEMPTS:
            raise StripeSourceError(
                f"GET {path} for account {self.account_label} failed {attempt} times "
                f"(last: {reason}). Stripe or the network is failing; rerun later: the backfill "
                "resumes from its completed slices."
            )
        self.stats.add(resource, retries=1)
        backoff = min(
            source_settings.BACKOFF_MAX_SECONDS,
            source_settings.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1),
        )
        # Full jitter keeps the threads of one account from retrying in lockstep.
        delay = random.uniform(backoff / 2, backoff)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if pause_account:
            self.bucket.pause(delay)
        logger.debug(
            "retrying GET %s for account %s in %.2fs: %s", path, self.account_label, delay, reason
        )
        time.sleep(delay)


def _environ_proxies(api_base: str) -> dict[str, str] | None:
    """HTTP(S)_PROXY / NO_PROXY for `api_base`, read once (the session below ignores them)."""
    proxies = requests.utils.get_environ_proxies(api_base)
    return {k: v for k, v in proxies.items() if k in ("http", "https")} or None


class _WholeBodyAdapter(requests.adapters.HTTPAdapter):
    """Reads each response body in one call instead of requests' 10 KB `iter_content` chunks.

    A list page is ~250 KB: in chunks, urllib3's per-read bookkeeping costs ~0.25 ms of CPU
    (under the GIL) per page. Read errors are raised as the same requests exceptions
    `Response.content` would raise, so the SDK still turns them into APIConnectionError.
    """

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        try:
            response._content = resp.read(decode_content=True) or b""
        except urllib3.exceptions.ProtocolError as exc:
            response.close()
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3.exceptions.DecodeError as exc:
            response.close()
            raise requests.exceptions.ContentDecodingError(exc) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            response.close()
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3.exceptions.SSLError as exc:
            response.close()
            raise requests.exceptions.SSLError(exc) from exc
        response._content_consumed = True
        return response


def shared_session(api_base: str, connections: int) -> requests.Session:
    """One keep-alive session for a batch of accounts fetched concurrently: the `Stripe-Account`
    header is per request, so they can share connections (a thousand accounts would otherwise
    open a thousand)."""
    session = _session(api_base)
    adapter = _WholeBodyAdapter(pool_connections=2, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _session(api_base: str) -> requests.Session:
    """One keep-alive session shared by every fetch thread of an account, its pool sized to them.

    `trust_env=False`: requests would otherwise scan the environment for proxies and read
    ~/.netrc on every request (the proxies are passed to the SDK client instead, read once; the
    API key is sent in the Authorization header, so netrc never applies).
    """
    session = requests.Session()
    session.trust_env = False
    pool = source_settings.FETCH_THREADS + 2
    adapter = _WholeBodyAdapter(pool_connections=2, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(float(value), source_settings.BACKOFF_MAX_SECONDS)
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    try:
        return (orjson.loads(body).get("error") or {}).get("code")
    except Exception:
        return None


def _error_message(body: Any) -> str:
    try:
        error = orjson.loads(body).get("error") or {}
        message = error.get("message") or "no message"
        return scrub_secrets(f"{error.get('type', 'error')}: {message}")
    except Exception:
        return "unreadable error body"


# --------------------------------------------------------------------------- intervals


Interval = tuple[int, int]  # [lo, hi) in Unix seconds of `created`


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    """Union of half-open intervals, sorted, adjacent ones joined."""
    out: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[0] < i[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def subtract_intervals(whole: Interval, done: list[Interval]) -> list[Interval]:
    """The parts of `whole` not covered by `done`."""
    lo, hi = whole
    remaining: list[Interval] = []
    cursor = lo
    for d_lo, d_hi in merge_intervals(done):
        if d_hi <= cursor or d_lo >= hi:
            continue
        if d_lo > cursor:
            remaining.append((cursor, min(d_lo, hi)))
        cursor = max(cursor, d_hi)
    if cursor < hi:
        remaining.append((cursor, hi))
    return remaining


# --------------------------------------------------------------------------- slicing


@dataclass
class Page:
    """One fetched page, projected; `covered` is fully fetched once this page is landed."""

    table: pa.Table
    covered: Interval
    slice_done: bool


@dataclass
class _Task:
    lo: int
    hi: int
    starting_after: str | None = None


_DONE = object()


class SliceFetcher:
    """Fetches every object of one list endpoint created in a set of intervals, in parallel.

    Each thread pages one `created` slice newest-first with `starting_after`. When a thread is
    idle and another's slice still holds several pages (judged from the time span of its last
    page), that slice is cut in two at its midpoint and the idle thread takes the older half, so
    the work spreads over all threads whatever the density of the data, with one partial page of
    waste per cut. After every page the fetched part of a slice (everything newer than the
    page's oldest second) is reported as covered, so a resumed run refetches at most one page
    per slice.
    """

    def __init__(
        self,
        http: StripeHttp,
        path: str,
        params: Mapping[str, Any],
        resource: str,
        project: Callable[[list[dict[str, Any]]], pa.Table],
        threads: int = source_settings.FETCH_THREADS,
        max_pages: int | None = None,
    ) -> None:
        self.http = http
        self.path = path
        self.params = dict(params)
        self.resource = resource
        self.project = project
        self.threads = max(1, threads)
        self.max_pages = max_pages
        self.stopped_early = False
        self._pages = 0
        self._tasks: deque[_Task] = deque()
        self._busy = 0
        self._idle = 0
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._out: queue.Queue[Any] = queue.Queue(maxsize=source_settings.QUEUE_PAGES)

    def run(self, intervals: list[Interval]) -> Iterator[Page]:
        self._tasks.extend(_Task(lo, hi) for lo, hi in intervals if lo < hi)
        if not self._tasks:
            return
        workers = [
            threading.Thread(target=self._worker, name=f"stripe-{self.resource}-{i}", daemon=True)
            for i in range(min(self.threads, max(len(self._tasks), self.threads)))
        ]
        for worker in workers:
            worker.start()
        finished = 0
        error: BaseException | None = None
        try:
            while finished < len(workers):
                item = self._out.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    error = error or item
                    self._halt()
                elif error is None:
                    yield item
        finally:
            # Reached also when the consumer stops early (generator closed): free the threads.
            self._halt()
            while any(w.is_alive() for w in workers):
                with contextlib.suppress(queue.Empty):
                    self._out.get(timeout=0.1)
        if error is not None:
            raise error

    def _halt(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def _next_task(self) -> _Task | None:
        with self._cond:
            while not self._tasks and self._busy > 0 and not self._stop.is_set():
                self._idle += 1
                self._cond.wait()
                self._idle -= 1
            if self._stop.is_set() or not self._tasks:
                self._cond.notify_all()
                return None
            self._busy += 1
            return self._tasks.popleft()

    def _worker(self) -> None:
        try:
            while (task := self._next_task()) is not None:
                try:
                    self._fetch_slice(task)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()
        except BaseException as exc:  # handed to the consuming thread, which re-raises it
            self._out.put(exc)
        finally:
            self._out.put(_DONE)

    def _take_page_budget(self) -> bool:
        with self._cond:
            if self.max_pages is not None and self._pages >= self.max_pages:
                self.stopped_early = True
                return False
            self._pages += 1
            return True

    def _fetch_slice(self, task: _Task) -> None:
        lo, hi, after = task.lo, task.hi, task.starting_after
        while not self._stop.is_set():
            if not self._take_page_budget():
                return
            params = {**self.params, "limit": source_settings.PAGE_LIMIT,
                      "created": {"gte": lo, "lt": hi}}  # fmt: skip
            if after is not None:
                params["starting_after"] = after
            body = self.http.get(self.path, params, self.resource)
            data = [o for o in body.get("data") or () if lo <= (o.get("created") or 0) < hi]
            has_more = bool(body.get("has_more")) and bool(data)
            table = self.project(data)
            if not has_more:
                self.http.stats.add(self.resource, slices=1)
                self._out.put(Page(table, (lo, hi), True))
                return
            newest, oldest = data[0]["created"], data[-1]["created"]
            self._out.put(Page(table, (oldest + 1, hi), False))
            hi, after = oldest + 1, data[-1]["id"]
            # Seconds per page near here estimate how many pages the rest of the slice holds.
            span = max(1, newest - oldest)
            if (
                self._idle > 0
                and not self._tasks
                and oldest - lo >= 2
                and (oldest - lo) / span >= source_settings.MIN_PAGES_TO_SPLIT
            ):
                mid = lo + (oldest - lo) // 2
                with self._cond:
                    self._tasks.append(_Task(lo, mid))
                    self._cond.notify()
                lo = mid


def fetch_all(
    http: StripeHttp, path: str, params: Mapping[str, Any], resource: str
) -> Iterator[dict[str, Any]]:
    """Every object of a (small) list, newest first, paged sequentially."""
    after: str | None = None
    while True:
        page_params = {**params, "limit": source_settings.PAGE_LIMIT}
        if after is not None:
            page_params["starting_after"] = after
        body = http.get(path, page_params, resource)
        data = body.get("data") or []
        yield from data
        if not body.get("has_more") or not data:
            return
        after = data[-1]["id"]
