"""Worker processes for the rate limit tests (importable, so `spawn` can start them)."""

from __future__ import annotations

from typing import Any

from venice_sdk.ratelimit import Limits, RedisRateLimiter


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def hit_worker(url: str, now: float, key_id: str, count: int, barrier: Any, results: Any) -> None:
    """Hit one key ``count`` times at once with the others; report how many got through."""
    limiter = RedisRateLimiter(url, clock=FixedClock(now))
    barrier.wait()
    passed = sum(limiter.hit(key_id, Limits(100, 10**9)).allowed for _ in range(count))
    limiter.close()
    results.put(passed)
