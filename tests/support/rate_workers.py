"""Worker processes for the rate limit tests (importable, so `spawn` can start them)."""

from __future__ import annotations

from typing import Any

from tests.support.ledger_workers import FixedClock
from venice_sdk.ratelimit import Limits, RedisRateLimiter


def hit_worker(
    url: str, now: float, key_id: str, count: int, seed: int, barrier: Any, results: Any
) -> None:
    """Hit one key ``count`` times at once with the others; report how many got through."""
    limiter = RedisRateLimiter(url, clock=FixedClock(now))
    barrier.wait()
    passed = sum(limiter.hit(key_id, Limits(100, 10**9)).allowed for _ in range(count))
    limiter.close()
    results.put(passed)
