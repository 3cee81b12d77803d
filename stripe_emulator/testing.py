"""Run the emulator in-process: uvicorn in a thread on a free port.

with run_emulator(seed=7, accounts=2, charges=50) as emu:
    client = emu.client(stripe_account=emu.connected_account_ids[0])
    client.v1.charges.list({"limit": 3})
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stripe_emulator.store import Store, StoreOptions

if TYPE_CHECKING:
    import stripe


@dataclass
class EmulatorHandle:
    """A running emulator: where it listens, the key it accepts, its accounts and state."""

    base_url: str
    api_key: str
    client_id: str
    platform_account_id: str
    connected_account_ids: list[str]
    store: Store
    app: Any = field(repr=False, default=None)

    def client(self, stripe_account: str | None = None, **kwargs: Any) -> stripe.StripeClient:
        """A StripeClient whose api and connect addresses point at the emulator."""
        import stripe

        options: dict[str, Any] = {
            "base_addresses": {"api": self.base_url, "connect": self.base_url},
            "max_network_retries": 0,
        }
        if stripe_account:
            options["stripe_account"] = stripe_account
        options.update(kwargs)
        return stripe.StripeClient(self.api_key, **options)

    def settings_env(self) -> dict[str, str]:
        """The environment the pipeline reads (stripe_pipeline.settings) to use this emulator."""
        return {
            "STRIPE_CLIENT_SECRET": self.api_key,
            "STRIPE_CLIENT_ID": self.client_id,
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_CONNECT_BASE": self.base_url,
        }

    def url(self, path: str) -> str:
        return self.base_url + path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def run_emulator(
    host: str = "127.0.0.1",
    port: int | None = None,
    live_rate: float = 0.0,
    store: Store | None = None,
    faults: Any = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    **options: Any,
) -> Iterator[EmulatorHandle]:
    """Start the emulator in a background thread; stop it on exit.

    `options` are `StoreOptions` fields (seed, accounts, charges, days, end, api_key, ...).
    Pass `store` to serve an existing store instead. `faults`: a `faults.FaultConfig` or dict
    (rate_limit, error_rate, drop_rate, latency_ms, seed...), also settable at run time by
    `POST /_emulator/faults`. `webhook_url`/`webhook_secret`: deliver every event there.
    """
    import uvicorn

    from stripe_emulator.app import create_app

    if store is None:
        store = Store.generate(StoreOptions(**options))
    app = create_app(store, live_rate=live_rate)
    from stripe_emulator import faults as fault_injection
    from stripe_emulator import webhooks

    if webhook_url:
        webhooks.add_startup_endpoint(store, webhook_url, webhook_secret)
    port = port or free_port(host)
    config = uvicorn.Config(
        fault_injection.wrap(app, faults),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http="httptools",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"stripe-emulator:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the Stripe emulator did not start on {host}:{port}")
        time.sleep(0.01)
    handle = EmulatorHandle(
        base_url=f"http://{host}:{port}",
        api_key=store.options.api_key,
        client_id=store.client_id,
        platform_account_id=store.platform_id,
        connected_account_ids=store.connected_ids(),
        store=store,
        app=app,
    )
    try:
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def env_with(handle: EmulatorHandle, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: os.environ) updated with the emulator's settings."""
    env = dict(os.environ if base is None else base)
    env.update(handle.settings_env())
    return env
