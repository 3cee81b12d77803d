"""Webhook listener figures: sustained verified events/s with p50/p99 latency, and a crash test.

    .venv/bin/python benchmarks/webhook_load.py                       # load, then crash
    .venv/bin/python benchmarks/webhook_load.py --mode load --events 5000 --concurrency 32
    .venv/bin/python benchmarks/webhook_load.py --mode crash --events 1500
    .venv/bin/python benchmarks/webhook_load.py --store postgres      # a throwaway database

load: a real `stripe-pipeline listener` (uvicorn subprocess, --workers N) on a fresh ops store
receives N realistic, signed `charge.succeeded` events from C concurrent keep-alive connections.
The baseline, in the same run, is the same load against GET /healthz (HTTP, routing and one ops
store query, no verification and no write), so the ratio says what verification and the durable
insert cost on this machine. Afterwards every event must be in the inbox exactly once.

crash: the same sender, retrying like Stripe (any error or non-2xx → try again later), while the
listener is SIGKILLed mid-burst and restarted. Every event answered 2xx before the kill must be in
the inbox right after the restart, and at the end every event is in the inbox exactly once.

The client is a minimal HTTP/1.1 client on raw asyncio streams: httpx's own overhead would
otherwise eat the CPU the listener needs on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from stripe import WebhookSignature

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from stripe_pipeline.ops_store import OpsStore  # noqa: E402
from stripe_pipeline.processes import free_port  # noqa: E402
from webhook_listener.process import ListenerProcess, listener_env  # noqa: E402

WEBHOOK_PATH = "/api/integrations/stripe/webhook"
SECRET = "whsec_bench_" + "d4" * 16


# -- payloads -------------------------------------------------------------------------------


def charge_event(i: int, account: str | None = None) -> bytes:
    now = int(time.time())
    event = {
        "id": f"evt_bench_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": now,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{uuid.uuid4().hex[:14]}", "idempotency_key": None},
        "type": "charge.succeeded",
        "data": {
            "object": {
                "id": f"ch_{uuid.uuid4().hex[:24]}",
                "object": "charge",
                "amount": 1000 + i,
                "amount_captured": 1000 + i,
                "amount_refunded": 0,
                "balance_transaction": f"txn_{uuid.uuid4().hex[:24]}",
                "billing_details": {
                    "address": {"country": "US", "postal_code": "94107"},
                    "name": None,
                },
                "captured": True,
                "created": now,
                "currency": "usd",
                "customer": f"cus_{uuid.uuid4().hex[:14]}",
                "description": f"Order {i}",
                "livemode": False,
                "metadata": {"app_price_id": f"price_{i % 50}", "app_sku_id": f"sku_{i % 20}"},
                "outcome": {
                    "network_status": "approved_by_network",
                    "risk_level": "normal",
                    "type": "authorized",
                },
                "paid": True,
                "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
                "payment_method": f"pm_{uuid.uuid4().hex[:24]}",
                "payment_method_details": {
                    "type": "card",
                    "card": {
                        "brand": "visa",
                        "checks": {"address_postal_code_check": "pass", "cvc_check": "pass"},
                        "country": "US",
                        "exp_month": 12,
                        "exp_year": 2034,
                        "fingerprint": uuid.uuid4().hex[:16],
                        "funding": "credit",
                        "last4": "4242",
                        "network": "visa",
                    },
                },
                "receipt_url": "https://pay.stripe.com/receipts/example",
                "refunded": False,
                "status": "succeeded",
            }
        },
    }
    if account:
        event["account"] = account
    return orjson.dumps(event, option=orjson.OPT_INDENT_2)


def event_id_of(body: bytes) -> str:
    return orjson.loads(body)["id"]


def webhook_request(host: str, body: bytes) -> bytes:
    signature = WebhookSignature.generate_signature_header(body.decode(), SECRET)
    head = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def health_request(host: str) -> bytes:
    return f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


# -- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------------


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes, timeout: float = 10.0) -> int:
        """Send one request, return the status code (raises on any transport error)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(raw)
            return await asyncio.wait_for(self._response(), timeout)
        except BaseException:
            self.close()
            raise

    async def _response(self) -> int:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# -- the listener process ---------------------------------------------------------------------


# -- load -------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<9} {self.requests:>6} req in {self.seconds:6.2f} s = {self.per_second:7.1f}/s  "
            f"p50 {self.percentile(50):6.1f} ms  p99 {self.percentile(99):6.1f} ms  "
            f"mean {statistics.fmean(self.latencies_ms):6.1f} ms  statuses {self.statuses}"
        )


async def blast(name: str, port: int, requests: list[bytes], concurrency: int) -> LoadResult:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        conn = Connection(port)
        while queue:
            raw = queue.pop()
            started = time.perf_counter()
            status = await conn.request(raw)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(name, len(requests), time.perf_counter() - started, latencies, statuses)


async def paced(
    name: str, port: int, requests: list[bytes], rate: float, connections: int
) -> LoadResult:
    """Open loop: request i is due at start + i/rate, whatever happened to the others, and its
    latency counts from when it was due (so no coordinated omission hides queueing)."""
    next_index = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(port)
        while next_index < len(requests):
            i = next_index
            next_index += 1
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            status = await conn.request(requests[i])
            latencies.append((time.perf_counter() - due) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return LoadResult(name, len(requests), time.perf_counter() - started, latencies, statuses)


def run_load(
    ops_url: str,
    events: int,
    concurrency: int,
    workers: int,
    log_dir: Path,
    log_level: str = "warning",
    rate: float = 300.0,
) -> dict[str, object]:
    listener = ListenerProcess(
        listener_env(ops_url, SECRET),
        free_port(),
        workers,
        log_dir / "listener-load.log",
        log_level,
        poll_interval=0.05,
    )
    host = f"127.0.0.1:{listener.port}"
    bodies = [charge_event(i) for i in range(events)]
    # Signed up front (the client's HMAC is not what is measured); well within the 300 s tolerance.
    signed = [webhook_request(host, body) for body in bodies]
    warmup = [webhook_request(host, charge_event(-i)) for i in range(1, 201)]
    paced_bodies = [charge_event(i) for i in range(min(events, int(rate * 10)))]
    paced_signed = [webhook_request(host, body) for body in paced_bodies]
    listener.start()
    try:
        asyncio.run(blast("warmup", listener.port, warmup, concurrency))
        health = asyncio.run(
            blast("healthz", listener.port, [health_request(host)] * events, concurrency)
        )
        load = asyncio.run(blast("webhooks", listener.port, signed, concurrency))
        steady = asyncio.run(paced(f"@{rate:g}/s", listener.port, paced_signed, rate, 64))
    finally:
        listener.stop()
    bodies += paced_bodies
    with OpsStore.open(ops_url) as store:
        stored = set(store.webhook_event_ids())
        inbox = store.count_webhook_events()
    expected = {event_id_of(b) for b in bodies}
    print("saturation (closed loop: each connection sends as soon as it has an answer)")
    print(health.line())
    print(load.line())
    print(
        f"ratio webhooks/healthz throughput: {load.per_second / health.per_second:.2f}  "
        f"(workers={workers}, concurrency={concurrency}, store={ops_url.split(':', 1)[0]}, "
        f"log level {log_level})"
    )
    print("sustained (open loop at a fixed rate; latency counted from when each event was due)")
    print(steady.line())
    all_stored = expected <= stored and inbox == len(expected) + len(warmup)
    print(f"inbox: {inbox} rows, every event stored exactly once: {all_stored}")
    return {
        "events_per_s": load.per_second,
        "p50_ms": load.percentile(50),
        "p99_ms": load.percentile(99),
        "sustained_per_s": steady.per_second,
        "sustained_p50_ms": steady.percentile(50),
        "sustained_p99_ms": steady.percentile(99),
        "healthz_per_s": health.per_second,
        "all_stored_once": all_stored,
        "statuses": load.statuses,
    }


# -- crash ----------------------------------------------------------------------------------------------


@dataclass
class CrashResult:
    events: int
    answered_before_kill: set[str]
    missing_after_restart: set[
        str
    ]  # answered 2xx before the kill but not in the inbox: must be empty
    inbox_ids: list[str]
    attempts: int
    retried: int
    conflicts: int
    seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return len(self.inbox_ids) == self.events and len(set(self.inbox_ids)) == self.events


async def _send_with_retries(
    port_of: Callable[[], int],
    bodies: list[bytes],
    concurrency: int,
    on_answered: Callable[[str], None],
    stats: dict[str, int],
) -> None:
    pending: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        pending.put_nowait(body)
    remaining = len(bodies)
    done = asyncio.Event()

    async def worker() -> None:
        nonlocal remaining
        conn: Connection | None = None
        while not done.is_set():
            try:
                body = await asyncio.wait_for(pending.get(), 0.2)
            except TimeoutError:
                continue
            port = port_of()
            if conn is None or conn.port != port:
                conn = Connection(port)
            stats["attempts"] += 1
            try:
                # Stripe signs every attempt afresh.
                status = await conn.request(webhook_request(f"127.0.0.1:{port}", body), timeout=5)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status = 0
            if 200 <= status < 300:
                on_answered(event_id_of(body))
                remaining -= 1
                if remaining == 0:
                    done.set()
            else:
                stats["retried"] += 1
                await asyncio.sleep(0.05)  # Stripe backs off far longer; the order is what matters
                pending.put_nowait(body)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run_crash(
    ops_url: str,
    events: int,
    concurrency: int,
    workers: int,
    log_dir: Path,
    kill_after: float = 0.33,
) -> CrashResult:
    listener = ListenerProcess(
        listener_env(ops_url, SECRET),
        free_port(),
        workers,
        log_dir / "listener-crash.log",
        "warning",
        poll_interval=0.05,
    )
    bodies = [charge_event(i) for i in range(events)]
    answered: set[str] = set()
    before_kill: set[str] = set()
    stats = {"attempts": 0, "retried": 0}
    killed = False
    missing_after_restart: set[str] = set()

    def on_answered(event_id: str) -> None:
        nonlocal killed, before_kill
        answered.add(event_id)
        if not killed and len(answered) >= events * kill_after:
            killed = True
            listener.kill()  # mid-burst: other requests are in flight right now
            before_kill = set(answered)

    async def main() -> None:
        nonlocal missing_after_restart
        sender = asyncio.create_task(
            _send_with_retries(lambda: listener.port, bodies, concurrency, on_answered, stats)
        )
        while not killed:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(listener.start)  # the same port: Stripe keeps one endpoint URL
        with OpsStore.open(ops_url) as store:
            missing_after_restart = before_kill - set(store.webhook_event_ids())
        await sender

    listener.start()
    started = time.perf_counter()
    try:
        asyncio.run(main())
    finally:
        listener.stop()
    with OpsStore.open(ops_url) as store:
        inbox_ids = store.webhook_event_ids()
        conflicts = len(store.webhook_conflicts())
    return CrashResult(
        events=events,
        answered_before_kill=before_kill,
        missing_after_restart=missing_after_restart,
        inbox_ids=inbox_ids,
        attempts=stats["attempts"],
        retried=stats["retried"],
        conflicts=conflicts,
        seconds=time.perf_counter() - started,
    )


@contextlib.contextmanager
def fresh_store(kind: str, tmp_path: Path, name: str, postgres_url: str) -> Iterator[str]:
    """A new, empty ops store: a SQLite file, or a throwaway database on the Postgres server
    (never an existing one: other work may share the server)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        return
    import sqlalchemy

    database = f"webhook_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    try:
        yield f"{postgres_url.rsplit('/', 1)[0]}/{database}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["load", "crash", "both"], default="both")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the server on which --store postgres creates (and drops) a throwaway database",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="events/s of the sustained phase")
    parser.add_argument(
        "--log-level",
        default="warning",
        help="the listener's (info logs one access line per request)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        tmp_path = Path(tmp)
        ok = True
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
        if args.mode in ("load", "both"):
            with fresh_store(args.store, tmp_path, "load", args.postgres_url) as url:
                figures = run_load(
                    url,
                    args.events,
                    args.concurrency,
                    args.workers,
                    tmp_path,
                    args.log_level,
                    args.rate,
                )
            ok &= bool(figures["all_stored_once"])
            target = (
                args.rate >= 300
                and figures["sustained_per_s"] >= 0.98 * args.rate
                and figures["sustained_p99_ms"] < 100
            )
            print(
                f"target >= 300 events/s sustained with p99 < 100 ms: {'met' if target else 'NOT met'}"
            )
        if args.mode in ("crash", "both"):
            with fresh_store(args.store, tmp_path, "crash", args.postgres_url) as url:
                result = run_crash(
                    url, min(args.events, 1500), args.concurrency, args.workers, tmp_path
                )
            print(
                f"crash: {result.events} events, SIGKILL after {len(result.answered_before_kill)} answered; "
                f"answered-but-missing after restart: {len(result.missing_after_restart)}; "
                f"attempts {result.attempts} ({result.retried} retried); inbox rows {len(result.inbox_ids)}; "
                f"conflicts {result.conflicts}; exactly once: {result.exactly_once}; {result.seconds:.1f} s"
            )
            ok &= result.exactly_once and not result.missing_after_restart and result.conflicts == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
