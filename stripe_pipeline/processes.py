"""Local services for the demo, the tests and the benchmarks: a free port, a child process in its
own process group, a wait until it answers HTTP, a stop that reaches its children, and an ASGI
app served by uvicorn in a thread. One home, so a fix (a readiness race, a leftover child) is
made once."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


class ServiceError(RuntimeError):
    """A service exited early or did not answer in time; the message names its log."""


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A socket bound to `port` (0: any free one) with SO_REUSEADDR, as uvicorn binds. Handing
    it to the server (`uvicorn.Server.run(sockets=[...])`) leaves no window in which another
    process takes the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1", preferred: int | None = None) -> int:
    """`preferred` if it is free (a port the last run left in TIME_WAIT counts as free, as for
    uvicorn), else any free port. For a child process that binds the port itself."""
    if preferred:
        with contextlib.suppress(OSError), bound_socket(host, preferred):
            return preferred
    with bound_socket(host) as sock:
        return sock.getsockname()[1]


def start_process(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    log_path: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """`args` in its own process group (so `stop_process` reaches the children it starts:
    uvicorn's workers, Dagster's code servers and run workers), output appended to `log_path`
    (discarded without one), stdin closed."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    try:
        return subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]  # the child holds its own descriptor


def _log_hint(log_path: Path | None) -> str:
    return f"; its log: {log_path}" if log_path else ""


def check_running(proc: subprocess.Popen[Any], what: str, log_path: Path | None = None) -> None:
    if proc.poll() is not None:
        raise ServiceError(f"{what} exited with status {proc.returncode}{_log_hint(log_path)}")


def wait_until_answers(
    url: str,
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[Any] | None = None,
    log_path: Path | None = None,
    interval: float = 0.2,
    **request: Any,
) -> None:
    """Poll GET `url` until it answers 200 (`request`: httpx options such as `auth`); fail at
    once if `proc` exits, or after `timeout` seconds."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None:
            check_running(proc, what, log_path)
        try:
            if httpx.get(url, timeout=2, **request).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(
                f"{what} did not answer {url} within {timeout:.0f} s{_log_hint(log_path)}"
            )
        time.sleep(interval)


def _signal_group(proc: subprocess.Popen[Any], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def kill_process(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL to the whole group: a crash, nothing flushed or finished."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(10)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM to the group, SIGKILL after `timeout` seconds; then SIGKILL whatever of the group
    outlived its leader (a Dagster run worker mid-step)."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)
    _signal_group(proc, signal.SIGKILL)


@contextlib.contextmanager
def serve_in_thread(
    app: Any, what: str, sock: socket.socket | None = None, **config: Any
) -> Iterator[str]:
    """`app` served by a real uvicorn in a background thread, on `sock` (a `bound_socket()`,
    for an app that must know its own address before it exists) or a free port; yields its
    base URL, stops it and closes the socket on exit. `config`: more `uvicorn.Config` options."""
    import uvicorn

    sock = sock or bound_socket()
    host, port = sock.getsockname()[:2]
    options: dict[str, Any] = {"log_config": None, "access_log": False, "lifespan": "on"}
    server = uvicorn.Server(uvicorn.Config(app, **{**options, **config}))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"{what}:{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServiceError(f"{what} did not start on {host}:{port}")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
