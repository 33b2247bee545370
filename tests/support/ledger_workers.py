"""Worker processes for the concurrency tests (importable, so `spawn` can start them)."""

from __future__ import annotations

import random
from typing import Any

from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger


class FixedClock:
    """A picklable clock stopped at one instant (a test must not straddle midnight)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_ledger(backend: str, target: str, now: float) -> CreditLedger:
    if backend == "redis":
        return RedisLedger(target, clock=FixedClock(now))
    return SQLiteLedger(target, clock=FixedClock(now))


def debit_worker(
    backend: str,
    target: str,
    now: float,
    account: str,
    limit: int,
    seed: int,
    count: int,
    barrier: Any,
    results: Any,
) -> None:
    """Debit ``count`` random costs from one account; report (allowed, refused) costs."""
    ledger = open_ledger(backend, target, now)
    rng = random.Random(seed)
    allowed: list[int] = []
    refused: list[int] = []
    barrier.wait()
    for _ in range(count):
        cost = rng.randint(1, 1_000)
        outcome = ledger.debit(account, cost, limit)
        assert outcome.spent <= limit
        (allowed if outcome.allowed else refused).append(cost)
    ledger.close()
    results.put((seed, allowed, refused))
