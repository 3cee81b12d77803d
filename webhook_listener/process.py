"""`stripe-pipeline listener` as a subprocess (several workers, killable), for the tests and the
benchmarks: start it in its own process group, wait for /healthz, SIGKILL it or stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def listener_env(ops_url: str, webhook_secret: str, **extra: str) -> dict[str, str]:
    """This process's environment without its STRIPE_/OPERATOR_/OPS_ settings, plus the ops store,
    the webhook secret and `extra`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "OPERATOR_", "OPS_"))
    }
    env.update(
        {
            "OPS_DATABASE_URL": ops_url,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class ListenerProcess:
    """`stripe-pipeline listener` as a subprocess (several workers, killable)."""

    env: dict[str, str]
    port: int
    workers: int = 1
    log_path: Path | None = None
    log_level: str = "info"
    poll_interval: float = 0.1
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, log: IO[bytes] | int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stripe_pipeline.cli",
                "listener",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--log-level",
                self.log_level,
            ],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: a SIGKILL reaches uvicorn's supervisor and all its workers.
            start_new_session=True,
        )

    def start(self, timeout: float = 30) -> None:
        if self.log_path is None:
            self.proc = self._spawn(subprocess.DEVNULL)
        else:
            with open(self.log_path, "ab") as log:
                self.proc = self._spawn(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the listener exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(self.poll_interval)
        raise RuntimeError(f"the listener did not answer /healthz within {timeout} s")

    def kill(self) -> None:
        """SIGKILL, no chance to flush or finish a request: a crash."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
