"""What the SDK's tests share besides fixtures: a settable clock, a fixed instant, the skip
reason when redis-server is missing."""

from __future__ import annotations

NO_REDIS = "redis-server is not installed (run scripts/ensure_redis.sh)"


class FakeClock:
    """A settable clock: ``clock.now = ...`` moves time for the ledger."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


#: 2025-06-01 12:00:00 UTC
NOON = 20_240 * 86_400 + 43_200
