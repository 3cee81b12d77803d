"""Injected faults: Stripe's rate limiter, server errors, lock timeouts, latency, dropped sockets.

`FaultMiddleware` wraps the emulator's ASGI app (it must be the outermost layer, so a dropped
connection reaches the server's socket). Faults apply to API paths (`/v1/` by default); the
emulator's own admin routes under `/_emulator/` never fail. Configure at start-up with a
`FaultConfig`, or at run time (a benchmark turning faults on mid-run):

    POST   /_emulator/faults   {"rate_limit": 25, "error_rate": 0.05, "seed": 7}  -> merged in
    PUT    /_emulator/faults   {...}                                              -> replaces
    GET    /_emulator/faults                                                      -> current
    DELETE /_emulator/faults                                                      -> all off

Every random choice comes from one `random.Random(seed)`, so a run with the same seed and the
same request order injects the same faults.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PATH = "/_emulator/faults"

# Stripe's test mode allows 25 requests/s per account, live mode 100.
TEST_MODE_RATE_LIMIT = 25.0
LIVE_MODE_RATE_LIMIT = 100.0

RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)
LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process "
    "is currently accessing it. If you see this error intermittently, retry the request. If "
    "you see this error frequently and are making multiple concurrent requests to a single "
    "object, make your requests serially or at a lower rate. See "
    "https://stripe.com/docs/rate-limits for more details."
)
API_ERROR_MESSAGE = (
    "An unknown error occurred while processing your request. Please retry the request; if "
    "the problem persists, contact Stripe support."
)


@dataclass
class FaultConfig:
    """What to inject. Rates are fractions of requests in [0, 1]; everything off by default."""

    rate_limit: float | None = None  # requests/s per account (token bucket); None: no limit
    burst: float | None = None  # bucket size; default: one second's worth of rate_limit
    # Stripe answers a rate-limit 429 without `Stripe-Should-Retry`, so the SDK does not retry
    # it (a client must back off itself); true adds the header, to test clients that honour it.
    rate_limit_retry_header: bool = False
    error_rate: float = 0.0  # answered 500/503 api_error
    error_statuses: tuple[int, ...] = (500, 503)
    lock_timeout_rate: float = 0.0  # answered 429 lock_timeout
    drop_rate: float = 0.0  # socket closed without a response
    latency_ms: float = 0.0  # added to every faulted-path request
    latency_jitter_ms: float = 0.0  # plus uniform [0, jitter)
    seed: int = 0
    path_prefix: str = "/v1/"
    accounts: tuple[str, ...] | None = None  # only these accounts; None: all

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown fault option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        values = dataclasses.asdict(base) if base is not None else {}
        values.update(data)
        if values.get("error_statuses") is not None:
            values["error_statuses"] = tuple(int(s) for s in values["error_statuses"])
        if values.get("accounts") is not None:
            values["accounts"] = tuple(values["accounts"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("error_rate", "lock_timeout_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}.")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive or null, got {self.rate_limit!r}.")
        if any(s < 500 or s > 599 for s in self.error_statuses):
            raise ValueError(f"error_statuses must be 5xx codes, got {self.error_statuses!r}.")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["accounts"] = list(self.accounts) if self.accounts is not None else None
        return data


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class FaultStats:
    rate_limited: int = 0
    errors: int = 0
    lock_timeouts: int = 0
    dropped: int = 0
    delayed: int = 0

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass
class FaultInjector:
    """The state behind the middleware: the config, one RNG, one token bucket per account."""

    config: FaultConfig = field(default_factory=FaultConfig)
    clock: Callable[[], float] = time.monotonic
    stats: FaultStats = field(default_factory=FaultStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._buckets: dict[str, _Bucket] = {}

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._buckets.clear()
            self.stats = FaultStats()

    def _take_token(self, account: str) -> bool:
        rate = self.config.rate_limit
        if rate is None:
            return True
        capacity = self.config.burst or rate
        now = self.clock()
        bucket = self._buckets.get(account)
        if bucket is None:
            bucket = self._buckets[account] = _Bucket(tokens=capacity, updated=now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def decide(self, path: str, account: str) -> tuple[str | None, float]:
        """The fault for one request (None, "rate_limit", "lock_timeout", "drop", "error:<status>")
        and the latency in seconds to add before answering."""
        with self._lock:
            config = self.config
            if not path.startswith(config.path_prefix):
                return None, 0.0
            if config.accounts is not None and account not in config.accounts:
                return None, 0.0
            delay = config.latency_ms / 1000.0
            if config.latency_jitter_ms:
                delay += self._rng.uniform(0.0, config.latency_jitter_ms) / 1000.0
            if delay:
                self.stats.delayed += 1
            if not self._take_token(account):
                self.stats.rate_limited += 1
                return "rate_limit", delay
            # Always draw the same number of variates per request, so one fault's rate does
            # not shift which requests another fault hits under the same seed.
            draw_drop, draw_lock, draw_error, draw_status = (self._rng.random() for _ in range(4))
            if draw_drop < config.drop_rate:
                self.stats.dropped += 1
                return "drop", delay
            if draw_lock < config.lock_timeout_rate:
                self.stats.lock_timeouts += 1
                return "lock_timeout", delay
            if draw_error < config.error_rate:
                self.stats.errors += 1
                statuses = config.error_statuses
                status = statuses[int(draw_status * len(statuses)) % len(statuses)]
                return f"error:{status}", delay
            return None, delay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def account_key(scope: Scope) -> str:
    """Whose limit a request counts against: the Stripe-Account it acts on, else its API key's
    own account (the key stands in for it; it never leaves this process)."""
    connected = _header(scope, b"stripe-account")
    if connected:
        return connected
    auth = _header(scope, b"authorization") or ""
    return "key:" + auth.rsplit(" ", 1)[-1]


def _error_body(error: dict[str, Any]) -> bytes:
    return json.dumps({"error": error}, indent=2).encode()


def _response_for(fault: str, config: FaultConfig) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    if fault == "rate_limit":
        body = _error_body(
            {
                "code": "rate_limit",
                "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                "message": RATE_LIMIT_MESSAGE,
                "type": "invalid_request_error",
            }
        )
        retry = [(b"stripe-should-retry", b"true")] if config.rate_limit_retry_header else []
        return 429, body, retry
    if fault == "lock_timeout":
        body = _error_body(
            {
                "code": "lock_timeout",
                "doc_url": "https://stripe.com/docs/error-codes/lock-timeout",
                "message": LOCK_TIMEOUT_MESSAGE,
                "type": "invalid_request_error",
            }
        )
        return 429, body, [(b"stripe-should-retry", b"true")]
    status = int(fault.split(":", 1)[1])
    body = _error_body({"message": API_ERROR_MESSAGE, "type": "api_error"})
    return status, body, []


async def _drop_connection(send: Send) -> None:
    # Close the socket with no response at all, as a load balancer dropping a connection does.
    # uvicorn's `send` is a bound method of the request cycle, which holds the transport.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        await asyncio.sleep(0)  # let the server see connection_lost before the app returns
        return
    # Elsewhere (an in-process ASGI client): start a response and fail mid-body, which every
    # server and client treats as a broken connection.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")],
        }
    )
    raise ConnectionAbortedError("fault injection: connection dropped")


class FaultMiddleware:
    """ASGI middleware injecting `FaultInjector`'s faults and serving `/_emulator/faults`."""

    def __init__(self, app: ASGIApp, injector: FaultInjector | FaultConfig | None = None) -> None:
        self.app = app
        if isinstance(injector, FaultConfig):
            injector = FaultInjector(injector)
        self.injector = injector or FaultInjector()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        fault, delay = self.injector.decide(path, account_key(scope))
        if delay:
            await asyncio.sleep(delay)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault == "drop":
            await _drop_connection(send)
            return
        status, body, extra = _response_for(fault, self.injector.config)
        await _send_json(send, status, body, extra)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        injector = self.injector
        try:
            if method in ("POST", "PUT"):
                raw = await _read_body(receive)
                data = json.loads(raw or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("Expected a JSON object of fault options.")
                base = injector.config if method == "POST" else None
                injector.configure(FaultConfig.from_mapping(data, base))
            elif method == "DELETE":
                injector.configure(FaultConfig())
            elif method != "GET":
                await _send_json(send, 405, _error_body(_invalid(f"{method} is not allowed.")))
                return
        except (ValueError, TypeError) as exc:
            await _send_json(send, 400, _error_body(_invalid(str(exc))))
            return
        payload = {"faults": injector.config.to_dict(), "stats": injector.stats.to_dict()}
        await _send_json(send, 200, json.dumps(payload).encode())


def _invalid(message: str) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error"}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"request-id", ("req_" + secrets.token_hex(7)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """The `--fault-*` options, for the emulator's command line."""
    group = parser.add_argument_group("faults")
    group.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help=f"requests/s per account (Stripe: {TEST_MODE_RATE_LIMIT:g} test, "
        f"{LIVE_MODE_RATE_LIMIT:g} live); default: no limit",
    )
    group.add_argument("--fault-error-rate", type=float, default=0.0)
    group.add_argument("--fault-lock-timeout-rate", type=float, default=0.0)
    group.add_argument("--fault-drop-rate", type=float, default=0.0)
    group.add_argument("--fault-latency-ms", type=float, default=0.0)
    group.add_argument("--fault-seed", type=int, default=0)


def config_from_args(args: argparse.Namespace) -> FaultConfig:
    config = FaultConfig(
        rate_limit=args.rate_limit,
        error_rate=args.fault_error_rate,
        lock_timeout_rate=args.fault_lock_timeout_rate,
        drop_rate=args.fault_drop_rate,
        latency_ms=args.fault_latency_ms,
        seed=args.fault_seed,
    )
    config.validate()
    return config


def wrap(app: ASGIApp, faults: FaultConfig | dict[str, Any] | None = None) -> FaultMiddleware:
    """The app behind the fault middleware (always, so `/_emulator/faults` can turn faults on
    mid-run), with `faults` injected from the start."""
    if isinstance(faults, dict):
        faults = FaultConfig.from_mapping(faults)
    return FaultMiddleware(app, FaultInjector(faults or FaultConfig()))
