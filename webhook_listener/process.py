"""`stripe-pipeline listener` as a subprocess (several workers, killable), for the tests and the
benchmarks: start it in its own process group, wait for /healthz, SIGKILL it or stop it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stripe_pipeline.processes import kill_process, start_process, stop_process, wait_until_answers

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

    def start(self, timeout: float = 30) -> None:
        self.proc = start_process(
            [
                sys.executable, "-m", "stripe_pipeline.cli", "listener",
                "--port", str(self.port), "--workers", str(self.workers),
                "--log-level", self.log_level,
            ],
            env=self.env,
            cwd=REPO_ROOT,
            log_path=self.log_path,
        )  # fmt: skip
        wait_until_answers(
            self.base_url + "/healthz",
            timeout=timeout,
            what="the listener",
            proc=self.proc,
            log_path=self.log_path,
            interval=self.poll_interval,
        )

    def kill(self) -> None:
        """SIGKILL, no chance to flush or finish a request: a crash."""
        if self.proc:
            kill_process(self.proc)

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
