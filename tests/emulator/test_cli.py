"""`stripe-pipeline emulator` serves the API and prints what a user needs to point at it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from stripe_emulator.testing import free_port


def test_cli_prints_base_url_key_and_accounts_and_serves_them():
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_pipeline.cli", "emulator", "--port", str(port),
         "--seed", "3", "--accounts", "1", "--charges", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if "serves:" in line:
                break
        output = "".join(lines)
        base_url = f"http://127.0.0.1:{port}"
        assert f"STRIPE_API_BASE={base_url}" in output
        assert "STRIPE_CLIENT_SECRET=sk_test_emulator" in output
        connected = output.split("connected accounts:")[1].split()[0]
        assert connected.startswith("acct_")
        for _ in range(100):
            try:
                response = httpx.get(
                    base_url + "/v1/charges",
                    headers={
                        "Authorization": "Bearer sk_test_emulator",
                        "Stripe-Account": connected,
                    },
                )
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert response.status_code == 200
        assert len(response.json()["data"]) == 10
    finally:
        process.terminate()
        process.wait(timeout=10)
