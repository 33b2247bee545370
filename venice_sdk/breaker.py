"""A circuit breaker: after a dependency fails, stop calling it for a cool-off.

`CircuitBreaker` is closed (calls go through) until a call fails; it then opens for `cooloff`
seconds, during which `allow()` says no at once, so a hung dependency costs one timeout, not one
per request. After the cool-off one caller gets to probe (half-open); its success closes the
breaker, its failure opens it for another cool-off. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed, open or half-open; `allow` before a call, then `success` or `failure`."""

    def __init__(self, cooloff: float = 2.0, clock: Callable[[], float] = time.monotonic):
        if cooloff < 0:
            raise ValueError("the breaker's cool-off must not be negative")
        self.cooloff = cooloff
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probing = False
        self.opened = 0  # how many times it opened (metrics, tests)
        self.refused = 0  # calls refused while open

    @property
    def state(self) -> str:
        """ "closed", "open" (refusing) or "half_open" (the next call, or one running, probes)."""
        with self._lock:
            if self._open_until is None:
                return "closed"
            if self._probing or self.clock() >= self._open_until:
                return "half_open"
            return "open"

    def allow(self) -> bool:
        """May a call go to the dependency now? True when closed, and for exactly one caller
        once the cool-off has passed (the probe, which must report `success` or `failure`)."""
        with self._lock:
            if self._open_until is None:
                return True
            if not self._probing and self.clock() >= self._open_until:
                self._probing = True
                return True
            self.refused += 1
            return False

    def success(self) -> None:
        with self._lock:
            self._open_until = None
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            if self._open_until is None:
                self.opened += 1
            self._open_until = self.clock() + self.cooloff
            self._probing = False
