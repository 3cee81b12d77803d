"""Listener workers exit when their main process dies.

uvicorn's main process supervises the workers; if it is killed outright (SIGKILL, the OOM
killer) the workers would keep serving with the old configuration and keep the port, so a
restart fails with "Address already in use". Each worker asks the kernel for SIGTERM when its
parent dies (Linux `prctl(PR_SET_PDEATHSIG)`), or, elsewhere, watches its parent id from a
thread. SIGTERM is uvicorn's graceful shutdown: requests in flight are answered first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger("webhook_listener")

# Set by `stripe-pipeline listener` in the main process; the workers inherit it.
SUPERVISOR_PID_ENV = "LISTENER_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1
_WATCH_INTERVAL_S = 1.0


def exit_with_parent(supervisor_pid: int) -> None:
    """In a worker whose parent is `supervisor_pid`: SIGTERM to itself once the parent is gone.
    Nothing happens in the supervisor itself (a single-process listener)."""
    if os.getpid() == supervisor_pid:
        return
    if not (sys.platform.startswith("linux") and _set_parent_death_signal()):
        threading.Thread(
            target=_watch_parent, args=(supervisor_pid,), name="parent-watch", daemon=True
        ).start()
    # The parent may have died before the signal was asked for: the kernel will not send it then.
    if os.getppid() != supervisor_pid:
        _terminate()


def _set_parent_death_signal() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(supervisor_pid: int) -> None:
    while os.getppid() == supervisor_pid:
        time.sleep(_WATCH_INTERVAL_S)
    _terminate()


def _terminate() -> None:
    log.warning("the listener's main process is gone: this worker stops")
    os.kill(os.getpid(), signal.SIGTERM)
