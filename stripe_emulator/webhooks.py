"""Webhook delivery, as Stripe does it: at least once, in no guaranteed order, retried.

Each event goes to the enabled webhook endpoints of its account and, for a connected account's
event, to the platform's Connect endpoints (the payload carries `account`). A POST of the event
JSON, signed `Stripe-Signature: t=<unix>,v1=<hmac>` with the endpoint's secret, re-signed on each
attempt. A non-2xx answer or a connection error is retried with exponential backoff
(`base_delay * 2**(attempt-1)`; Stripe spreads its retries over three days, the emulator
compresses them so a test sees a retry in milliseconds). A small random delay before the first
attempt means two events may arrive in either order, as with Stripe.

Delivery runs on its own thread with its own event loop and bounded concurrency, so the API call
that made an event never waits for a delivery.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from stripe_emulator import objects
from stripe_emulator.app import Request, Response, Router, StripeError
from stripe_emulator.mutations import Call, api_route, merge_metadata
from stripe_emulator.signing import new_webhook_secret, signature_header
from stripe_emulator.store import Account, Store

log = logging.getLogger(__name__)

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True)
class DeliveryTarget:
    """Where one event goes: a webhook endpoint's id, url and signing secret."""

    endpoint_id: str
    url: str
    secret: str


@dataclass
class DeliveryAttempt:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    status: int | None  # None: connection error
    error: str | None
    at: float


@dataclass
class DeliveryOptions:
    base_delay: float = 0.05  # seconds before the first retry; doubles each time
    max_delay: float = 5.0
    max_attempts: int = 8  # Stripe retries for 3 days; here, this many attempts in all
    jitter: float = 0.02  # up to this many seconds before a first attempt: any-order delivery
    concurrency: int = 8
    timeout: float = 5.0
    seed: int | None = None


@dataclass
class WebhookDispatcher:
    """Delivers events to targets. `on_done` hears when an event's delivery to one target
    ended (delivered or given up), so the store can lower the event's `pending_webhooks`."""

    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    on_done: Callable[[str, DeliveryTarget, bool], None] | None = None

    def __post_init__(self) -> None:
        # The latest attempts (bounded: a webhook load benchmark sends a great many).
        self.attempts: collections.deque[DeliveryAttempt] = collections.deque(maxlen=10_000)
        self._rng = random.Random(self.options.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._pending = 0
        self._idle = threading.Condition()
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._semaphore = asyncio.Semaphore(self.options.concurrency)
        self._client = httpx.AsyncClient(
            timeout=self.options.timeout,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=self.options.concurrency),
        )
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._client.aclose())
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is still pending and stop the delivery thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._stopping = True

        async def _shutdown() -> None:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            loop.stop()

        with contextlib.suppress(RuntimeError):  # the loop already closed
            asyncio.run_coroutine_threadsafe(_shutdown(), loop)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        with self._idle:
            self._pending = 0
            self._idle.notify_all()

    def __enter__(self) -> WebhookDispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- delivery --------------------------------------------------------------------------

    def deliver(self, event: dict[str, Any], targets: Iterable[DeliveryTarget]) -> int:
        """Schedule an event's delivery to its targets; returns how many. Safe to call from
        any thread; never blocks on the network."""
        targets = list(targets)
        if not targets or self._stopping:
            return 0
        if self._loop is None:
            self.start()
        assert self._loop is not None
        body = json.dumps(event, indent=2).encode()
        with self._idle:
            self._pending += len(targets)
        for target in targets:
            delay = self._rng.uniform(0.0, self.options.jitter) if self.options.jitter else 0.0
            self._loop.call_soon_threadsafe(self._schedule, event, body, target, 1, delay)
        return len(targets)

    def _schedule(
        self, event: dict[str, Any], body: bytes, target: DeliveryTarget, attempt: int, delay: float
    ) -> None:
        task = asyncio.ensure_future(self._deliver(event, body, target, attempt, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self, event: dict[str, Any], body: bytes, target: DeliveryTarget, attempt: int, delay: float
    ) -> None:
        if delay:
            await asyncio.sleep(delay)
        assert self._client is not None and self._semaphore is not None
        status: int | None = None
        error: str | None = None
        async with self._semaphore:
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature_header(body, target.secret),
            }
            try:
                response = await self._client.post(target.url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        self.attempts.append(
            DeliveryAttempt(
                event_id=event["id"],
                event_type=event["type"],
                endpoint_id=target.endpoint_id,
                url=target.url,
                attempt=attempt,
                status=status,
                error=error,
                at=time.time(),
            )
        )
        delivered = status is not None and 200 <= status < 300
        if delivered or attempt >= self.options.max_attempts:
            if not delivered:
                log.warning(
                    "Gave up delivering %s (%s) to %s after %d attempts: last %s",
                    event["id"],
                    event["type"],
                    target.url,
                    attempt,
                    status if status is not None else error,
                )
            self._finish(event["id"], target, delivered)
            return
        backoff = min(self.options.base_delay * 2 ** (attempt - 1), self.options.max_delay)
        self._schedule(event, body, target, attempt + 1, backoff)

    def _finish(self, event_id: str, target: DeliveryTarget, delivered: bool) -> None:
        if self.on_done is not None:
            try:
                self.on_done(event_id, target, delivered)
            except Exception:  # a bookkeeping error must not stop other deliveries
                log.exception("on_done failed for %s", event_id)
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is pending (tests). True if idle within the timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True


def endpoint_wants(enabled_events: Iterable[str], event_type: str) -> bool:
    enabled = list(enabled_events)
    return "*" in enabled or event_type in enabled


# -- the emulator's webhook endpoints ----------------------------------------------------------


@dataclass
class EndpointSecret:
    secret: str
    connect: bool


@dataclass
class WebhookRegistry:
    """Signing secrets and Connect flags of webhook endpoints, by (account id, endpoint id).

    The endpoint objects themselves live in the store (so lists, retrieve and delete behave as
    every other object); the secret is kept here because Stripe shows it only on create, and
    `connect` is not a field of the object at all."""

    store: Any
    secrets: dict[tuple[str, str], EndpointSecret] = field(default_factory=dict)

    def add(self, account_id: str, endpoint_id: str, secret: str, connect: bool) -> None:
        self.secrets[(account_id, endpoint_id)] = EndpointSecret(secret, connect)

    def _endpoints(self, account: Any, connect: bool, event_type: str) -> list[DeliveryTarget]:
        targets = []
        for (account_id, endpoint_id), entry in list(self.secrets.items()):
            if account_id != account.id or entry.connect != connect:
                continue
            endpoint = account.lookup("webhook_endpoint", endpoint_id)
            if endpoint is None or endpoint.get("deleted") or endpoint.get("status") != "enabled":
                continue
            if endpoint_wants(endpoint.get("enabled_events") or (), event_type):
                targets.append(DeliveryTarget(endpoint_id, endpoint["url"], entry.secret))
        return targets

    def targets_for(self, account: Any, event: dict[str, Any]) -> list[DeliveryTarget]:
        """The account's own endpoints and, for a connected account's event, the platform's
        Connect endpoints; only those whose enabled_events include the event's type."""
        store = self.store
        event_type = event["type"]
        targets = self._endpoints(account, False, event_type)
        if account.id != store.platform_id and (
            store.is_connected(account.id)
            # Sent just after the disconnection, still to the platform it left.
            or event_type == "account.application.deauthorized"
        ):
            targets += self._endpoints(store.platform, True, event_type)
        return targets


# -- wiring into the app -----------------------------------------------------------------------


@dataclass
class WebhookState:
    """Per-store webhook machinery: the registry of secrets and the dispatcher."""

    registry: WebhookRegistry
    dispatcher: WebhookDispatcher


_STATES: weakref.WeakKeyDictionary[Any, WebhookState] = weakref.WeakKeyDictionary()


def state(store: Store) -> WebhookState:
    """The store's webhook state, created on first use."""
    found = _STATES.get(store)
    if found is None:
        registry = WebhookRegistry(store)

        def on_done(event_id: str, target: DeliveryTarget, delivered: bool) -> None:
            _delivery_done(store, event_id, delivered)

        dispatcher = WebhookDispatcher(options=DeliveryOptions(), on_done=on_done)
        found = _STATES[store] = WebhookState(registry, dispatcher)

        def listener(account: Account, event: dict[str, Any]) -> None:
            targets = registry.targets_for(account, event)
            if not targets:
                return
            # Set before the payload is serialized: the delivered JSON carries the count too.
            event["pending_webhooks"] = len(targets)
            dispatcher.deliver(event, targets)

        store.add_event_listener(listener)
    return found


def _delivery_done(store: Store, event_id: str, delivered: bool) -> None:
    with store.lock:
        # `delivery_success` on /v1/events: false once any endpoint failed for good.
        store.event_delivery[event_id] = store.event_delivery.get(event_id, True) and delivered
        for account in list(store.accounts.values()):
            event = account.overlay.get(event_id)
            if event is not None:
                event["pending_webhooks"] = max(0, event.get("pending_webhooks", 0) - 1)
                break


def configure(store: Store, **options: Any) -> DeliveryOptions:
    """Change delivery options (base_delay, max_attempts, jitter, concurrency, timeout, seed)."""
    delivery = state(store).dispatcher.options
    for name, value in options.items():
        if not hasattr(delivery, name):
            raise ValueError(f"Unknown webhook delivery option: {name}")
        setattr(delivery, name, value)
    return delivery


def add_endpoint(
    store: Store,
    url: str,
    secret: str | None = None,
    enabled_events: list[str] | None = None,
    account_id: str | None = None,
    connect: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    """Register a webhook endpoint directly (start-up options, tests). Returns the endpoint
    object with its `secret`."""
    account = store.account(account_id) if account_id else store.platform
    if account is None:
        raise KeyError(account_id)
    secret = secret or new_webhook_secret()
    if not secret.startswith("whsec_"):
        raise ValueError("A webhook signing secret starts with whsec_.")
    endpoint = objects.webhook_endpoint(
        id=store.new_id("we"),
        url=url,
        enabled_events=list(enabled_events or ["*"]),
        created=store.now(),
        description=description,
    )
    account.put(endpoint)
    state(store).registry.add(account.id, endpoint["id"], secret, connect)
    return {**endpoint, "secret": secret}


def add_startup_endpoint(store: Store, url: str, secret: str | None = None) -> str:
    """`--webhook-url/--webhook-secret`: one listener for everything, as a platform registers
    an account endpoint and a Connect endpoint, here with the same secret. Returns the secret."""
    first = add_endpoint(store, url, secret, description="--webhook-url (account events)")
    add_endpoint(store, url, first["secret"], connect=True, description="--webhook-url (Connect)")
    return first["secret"]


# -- webhook endpoint routes -------------------------------------------------------------------

ENDPOINT_FIELDS = {"url", "enabled_events", "description", "metadata", "api_version", "connect"}
UPDATE_FIELDS = {"url", "enabled_events", "description", "metadata", "disabled"}


def _check_url(url: str | None) -> str:
    if not url:
        raise StripeError(
            400, "Missing required param: url.", code="parameter_missing", param="url"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError(400, f"Invalid URL: {url}", code="url_invalid", param="url")
    return url


def _enabled_events(value: Any) -> list[str]:
    events = value if isinstance(value, list) else [value] if isinstance(value, str) else None
    if not events:
        raise StripeError(
            400,
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    return [str(e) for e in events]


def create_endpoint(call: Call) -> dict:
    params = call.params
    for name in params:
        if name not in ENDPOINT_FIELDS | {"expand"}:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
    url = _check_url(params.get("url"))
    enabled = _enabled_events(params.get("enabled_events"))
    connect = params.get("connect") in ("true", True)
    secret = new_webhook_secret()
    endpoint = objects.webhook_endpoint(
        id=call.store.new_id("we"),
        url=url,
        enabled_events=enabled,
        created=call.now(),
        description=params.get("description") or None,
        api_version=params.get("api_version") or None,
        metadata=merge_metadata({}, params.get("metadata")),
        application=None,
    )
    call.account.put(endpoint)
    state(call.store).registry.add(call.account.id, endpoint["id"], secret, connect)
    # Stripe shows the signing secret in the create response only.
    return {**endpoint, "secret": secret}


def _existing_endpoint(call: Call) -> dict:
    endpoint_id = call.path_params["id"]
    endpoint = call.account.get("webhook_endpoint", endpoint_id)
    if endpoint is None or endpoint.get("deleted"):
        raise StripeError(
            404,
            f"No such webhook endpoint: '{endpoint_id}'",
            code="resource_missing",
            param="id",
        )
    return endpoint


def update_endpoint(call: Call) -> dict:
    params = call.params
    for name in params:
        if name not in UPDATE_FIELDS | {"expand"}:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
    endpoint = _existing_endpoint(call)
    if "url" in params:
        endpoint["url"] = _check_url(params["url"])
    if "enabled_events" in params:
        endpoint["enabled_events"] = _enabled_events(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = params["description"] or None
    if "disabled" in params:
        endpoint["status"] = "disabled" if params["disabled"] in ("true", True) else "enabled"
    endpoint["metadata"] = merge_metadata(endpoint.get("metadata") or {}, params.get("metadata"))
    call.account.put(endpoint)
    return endpoint


def delete_endpoint(call: Call) -> dict:
    endpoint = _existing_endpoint(call)
    state(call.store).registry.secrets.pop((call.account.id, endpoint["id"]), None)
    return call.account.delete("webhook_endpoint", endpoint["id"])


def _attempts_route(store: Store) -> Callable[[Request], Response]:
    def route(req: Request) -> Response:
        dispatcher = state(store).dispatcher
        attempts = [dataclasses.asdict(a) for a in list(dispatcher.attempts)]
        return Response(200, {"object": "list", "data": attempts})

    return route


def register(router: Router, store: Store) -> None:
    webhook_state = state(store)
    router.add("POST", "/v1/webhook_endpoints", api_route(store, create_endpoint))
    router.add("POST", "/v1/webhook_endpoints/{id}", api_route(store, update_endpoint))
    router.add("DELETE", "/v1/webhook_endpoints/{id}", api_route(store, delete_endpoint))
    # The emulator's own: every delivery attempt, for tests and benchmarks.
    router.add("GET", "/_emulator/webhooks/attempts", _attempts_route(store), auth="none")
    app = getattr(store, "app", None)
    if app is not None:
        app.on_startup.append(webhook_state.dispatcher.start)
        app.on_shutdown.append(webhook_state.dispatcher.stop)
