"""Worker processes for the hold concurrency tests (importable, so `spawn` can start them)."""

from __future__ import annotations

import random
from typing import Any

from tests.support.ledger_workers import open_ledger


def hold_worker(
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
    """Reserve ``count`` random worst cases on one account; settle most at a random actual
    (some above the hold), release the others. Report the settled costs and the refusals."""
    ledger = open_ledger(backend, target, now)
    rng = random.Random(seed)
    settled: list[int] = []
    refused = 0
    released = 0
    barrier.wait()
    for i in range(count):
        worst = rng.randint(1, 1_000)
        hold = ledger.reserve(account, worst, limit, f"w{seed}-{i}")
        assert hold.spent + hold.held <= limit
        if not hold.allowed:
            refused += 1
            continue
        if rng.random() < 0.2:
            ledger.release(hold)
            released += 1
            continue
        done = ledger.settle(hold, rng.randint(0, worst * 6 // 5))
        assert done.cost <= worst and done.spent <= limit
        settled.append(done.cost)
    ledger.close()
    results.put((seed, settled, refused, released))
