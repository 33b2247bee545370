"""Worker processes for the concurrency tests (importable, so `spawn` can start them) and `race`,
which starts them together behind one barrier and gathers what each reports."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Callable
from typing import Any, NamedTuple

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


class Job(NamedTuple):
    """What every ledger worker shares: ``count`` operations on one account under ``limit``."""

    backend: str
    target: str
    now: float
    account: str
    limit: int
    count: int


def race(
    worker: Callable[..., None], args: tuple[Any, ...], processes: int, timeout: float
) -> list[Any]:
    """Run ``worker(*args, seed, barrier, results)`` in ``processes`` spawned processes (seeds
    0, 1, ...) that start together; return each one's report, after checking all exited 0."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(*args, seed, barrier, results))
        for seed in range(processes)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=timeout) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    return reports


def debit_worker(job: Job, seed: int, barrier: Any, results: Any) -> None:
    """Debit ``job.count`` random costs from one account; report (allowed, refused) costs."""
    ledger = open_ledger(job.backend, job.target, job.now)
    rng = random.Random(seed)
    allowed: list[int] = []
    refused: list[int] = []
    barrier.wait()
    for _ in range(job.count):
        cost = rng.randint(1, 1_000)
        outcome = ledger.debit(job.account, cost, job.limit)
        assert outcome.spent <= job.limit
        (allowed if outcome.allowed else refused).append(cost)
    ledger.close()
    results.put((seed, allowed, refused))


def hold_worker(job: Job, seed: int, barrier: Any, results: Any) -> None:
    """Reserve ``job.count`` random worst cases on one account; settle most at a random actual
    (some above the hold), release the others. Report the settled costs and the refusals."""
    ledger = open_ledger(job.backend, job.target, job.now)
    rng = random.Random(seed)
    settled: list[int] = []
    refused = 0
    released = 0
    barrier.wait()
    for i in range(job.count):
        worst = rng.randint(1, 1_000)
        hold = ledger.reserve(job.account, worst, job.limit, f"w{seed}-{i}")
        assert hold.spent + hold.held <= job.limit
        if not hold.allowed:
            refused += 1
            continue
        if rng.random() < 0.2:
            ledger.release(hold)
            released += 1
            continue
        done = ledger.settle(hold, rng.randint(0, worst * 6 // 5))
        assert done.cost <= worst and done.spent <= job.limit
        settled.append(done.cost)
    ledger.close()
    results.put((seed, settled, refused, released))
