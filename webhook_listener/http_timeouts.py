"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn times out idle keep-alive connections (`timeout_keep_alive`) but not a connection that
sends nothing, or its headers a byte at a time: each would stay open indefinitely, and enough of
them exhaust a worker's file descriptors. This protocol closes a connection whose request line
and headers are not complete `LISTENER_HEADER_TIMEOUT_S` seconds after it opened (or after the
request began, on a kept-alive connection). The body has its own deadline, in the webhook route
(`WEBHOOK_BODY_TIMEOUT_S`, answered 408), because only the app knows how much it reads.

`stripe-pipeline listener` selects it with uvicorn's `http=` option (httptools, which uvicorn's
`auto` would pick too).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("webhook_listener.http")


@functools.cache
def _header_timeout_s() -> float:
    from stripe_pipeline.settings import load_settings

    # Read once per worker, when its first connection arrives (never at import).
    return float(load_settings().listener_header_timeout_s)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(
                _header_timeout_s(), self._headers_too_slow
            )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.warning(
                "closed a connection from %s: no complete request headers within %.0f s",
                self.client[0] if self.client else "?",
                _header_timeout_s(),
            )
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)
