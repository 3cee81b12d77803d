"""The emulator's command line passes fault and webhook options through: a benchmark can start
it rate-limited, and a listener can be registered at start-up."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
import stripe

from stripe_emulator.testing import free_port

LAUNCH = (
    "import argparse, sys\n"
    "from stripe_emulator import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


@pytest.fixture
def start_cli():
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--port", str(port), "--charges", "20", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/_emulator/faults", timeout=0.5)
                return base
            except httpx.HTTPError:
                if process.poll() is not None:
                    pytest.fail(f"the emulator exited: {process.stdout.read()}")
                time.sleep(0.1)
        pytest.fail("the emulator did not start within 30 s")

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_rate_limit_option_limits_each_account(start_cli):
    base = start_cli("--rate-limit", "2")
    headers = {"Authorization": "Bearer sk_test_emulator"}
    statuses = [httpx.get(base + "/v1/products", headers=headers).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]


def test_webhook_options_register_a_listener(start_cli, webhook_receiver):
    secret = "whsec_from_the_command_line"
    base = start_cli("--webhook-url", webhook_receiver.url, "--webhook-secret", secret)
    client = stripe.StripeClient(
        "sk_test_emulator", base_addresses={"api": base, "connect": base}, max_network_retries=0
    )
    client.v1.customers.create({"email": "cli@example.com"})
    delivery = webhook_receiver.wait_for(lambda rs: len(rs) >= 1)[0]
    event = stripe.Webhook.construct_event(
        delivery.body, delivery.headers["Stripe-Signature"], secret
    )
    assert event.type == "customer.created"
