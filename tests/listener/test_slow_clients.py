"""Slow clients cannot hold the listener: a connection that sends its headers, or a webhook
body, too slowly is closed (the body with 408), so a few of them cannot pin a worker's
connections open indefinitely. The listener as it runs in production, with its timeouts at
1 s, over raw sockets on 127.0.0.1; each wait is bounded."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.listener import WEBHOOK_PATH, listener_process

pytestmark = pytest.mark.slow

# Far above the 1 s configured below: a listener that never times out fails the test here.
WAIT_S = 8


@pytest.fixture
def listener_with_short_timeouts(tmp_path: Path) -> Iterator[int]:
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    with listener_process(
        url,
        workers=1,
        log_path=tmp_path / "listener.log",
        LISTENER_HEADER_TIMEOUT_S="1",
        WEBHOOK_BODY_TIMEOUT_S="1",
    ) as proc:
        yield proc.port


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; socket.timeout if it never does."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_client_that_never_finishes_its_headers_is_disconnected(
    listener_with_short_timeouts: int,
) -> None:
    started = time.monotonic()
    with _connect(listener_with_short_timeouts) as sock:
        sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        try:
            _read_until_closed(sock)
        except TimeoutError:
            pytest.fail(f"the connection was still open after {WAIT_S} s of incomplete headers")
    assert time.monotonic() - started < WAIT_S


def test_a_client_that_connects_and_sends_nothing_is_disconnected(
    listener_with_short_timeouts: int,
) -> None:
    with _connect(listener_with_short_timeouts) as sock:
        try:
            assert _read_until_closed(sock) == b""
        except TimeoutError:
            pytest.fail(f"an idle new connection was still open after {WAIT_S} s")


def test_a_webhook_body_sent_too_slowly_gets_408(listener_with_short_timeouts: int) -> None:
    with _connect(listener_with_short_timeouts) as sock:
        sock.sendall(
            (
                f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\n"
                'Content-Length: 1000\r\n\r\n{"id": '
            ).encode()
        )
        try:
            answer = _read_until_closed(sock)
        except TimeoutError:
            pytest.fail(f"a body stalled for {WAIT_S} s got no answer")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"body" in answer


def test_a_normal_delivery_after_slow_clients_is_answered(
    listener_with_short_timeouts: int,
) -> None:
    import httpx

    stalled = [_connect(listener_with_short_timeouts) for _ in range(20)]
    try:
        for sock in stalled:
            sock.sendall(b"POST / HTTP/1.1\r\n")
        with httpx.Client(base_url=f"http://127.0.0.1:{listener_with_short_timeouts}") as client:
            assert client.get("/healthz", timeout=5).status_code == 200
    finally:
        for sock in stalled:
            sock.close()
