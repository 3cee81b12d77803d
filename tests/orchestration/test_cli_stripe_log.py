"""`STRIPE_LOG=debug` makes the stripe SDK print whole responses (cards included) to stderr; the
pipeline's processes must print nothing of the kind whatever it says. A real sync of a real
account against the emulator, from the command line, with the variable set."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_emulator.testing import EmulatorHandle

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_a_sync_with_stripe_log_debug_prints_no_card_data_or_response_body(
    pipeline_env: dict[str, str], emulator: EmulatorHandle, tmp_path: Path
) -> None:
    import os

    account = emulator.connected_account_ids[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DAGSTER_"))}
    env.update(pipeline_env)
    env["STRIPE_LOG"] = "debug"
    done = subprocess.run(
        [sys.executable, "-m", "stripe_pipeline.cli", "sync", "--account", account, "--no-marts"],
        env=env,
        cwd=tmp_path,  # no .env of the developer's
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"syncing {account}" in done.stdout  # charges really were fetched
    for leak in ("last4", "fingerprint", "exp_month", '"object": "charge"', "API response body"):
        assert leak not in output, f"{leak!r} reached the output"
    assert pipeline_env["STRIPE_CLIENT_SECRET"] not in output
    assert not re.search(r"\b(sk|rk)_(test|live)_\w{8,}", output)
    assert "STRIPE_LOG=debug is ignored" in output  # the operator is told why nothing printed
