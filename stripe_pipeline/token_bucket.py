"""One token bucket per Stripe account, shared by every thread that calls that account.

Stripe limits requests per second per account (100 live, 25 test). A pipeline that stays just
under the limit and uses all of it is as fast as Stripe allows; one that bursts over it spends its
time in 429 back-offs. The bucket refills continuously at `rate` tokens per second and holds at
most `capacity` tokens, so any one-second window sees at most about `rate + capacity` requests.

It is written as a virtual scheduler (GCRA): each caller reserves the next free send instant under
the lock and sleeps outside it, so waiting threads go out in order, evenly spaced, instead of all
waking at once and racing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A thread-safe token bucket; `acquire()` blocks until a request may be sent."""

    def __init__(
        self,
        rate: float,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive requests per second, got {rate!r}")
        if capacity < 1:
            raise ValueError(f"capacity must hold at least one token, got {capacity!r}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._interval = 1.0 / self.rate
        # How far behind `now` the schedule may lag: that lag is the burst a full bucket allows.
        self._burst = (self.capacity - 1.0) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = clock()
        self._paused_until = 0.0

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            send_at = max(self._next_free, now - self._burst, self._paused_until)
            self._next_free = send_at + self._interval
        delay = send_at - now
        if delay > 0:
            self._sleep(delay)
            return delay
        return 0.0

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (Stripe answered 429 with Retry-After)."""
        with self._lock:
            until = self._clock() + seconds
            self._paused_until = max(self._paused_until, until)
            # Requests already scheduled before the pause keep their order after it.
            self._next_free = max(self._next_free, until)
