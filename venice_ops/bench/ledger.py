"""Debits per second of the credit ledgers: SQLite and Redis, 1 and 8 worker processes.

    python scripts/bench_ledger.py [--seconds 1.5] [--runs 3] [--batch 32]

(the entry point; the benchmark is here.)

Plain Python, no ape and no chain. It starts its own redis-server (append-only) on a free port
in a temporary directory and removes everything at the end. Each worker process debits random
accounts out of 10,000 for ``--seconds`` seconds, all workers starting at the same instant; a
figure is the median over ``--runs`` runs of all workers' debits divided by the time.

Two ways to call, both atomic per debit:

* ``single``: one ``debit()`` per request: one SQLite transaction, one Redis round trip.
* ``batched``: ``debit_many()`` of ``--batch`` independent requests: one SQLite transaction for
  the batch, one Redis pipeline of EVALSHAs (each still its own atomic script).

And two durability settings per backend: SQLite ``synchronous=FULL`` (fsync per commit) or
``NORMAL`` (WAL; survives process crashes, not power cuts); Redis ``appendfsync always`` or
``everysec`` (up to a second of debits lost on a crash of the machine).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venice_ops.bench.redis import start_redis
from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger

ACCOUNTS = 10_000
LIMIT = 10**15
TARGETS = {"sqlite": 5_000, "redis": 10_000}  # debits/s with 8 workers, from the issue


@dataclass(frozen=True)
class Config:
    backend: str  # "sqlite" or "redis"
    sync: str  # SQLite synchronous / Redis appendfsync
    target: str  # database file or redis URL


def open_ledger(config: Config) -> CreditLedger:
    if config.backend == "redis":
        return RedisLedger(config.target)
    return SQLiteLedger(config.target, synchronous=config.sync)


def worker(inbox: Any, outbox: Any, seed: int) -> None:
    """Run benchmark tasks from ``inbox`` until it sends None."""
    rng = random.Random(seed)
    accounts = [f"key_{i:05d}" for i in range(ACCOUNTS)]
    while (task := inbox.get()) is not None:
        config, mode, batch, start_at, seconds = task
        ledger = open_ledger(config)
        ledger.debit(accounts[0], 0, LIMIT)  # connect before the clock starts
        while time.time() < start_at:
            time.sleep(0.0005)
        deadline = start_at + seconds
        done = 0
        if mode == "single":
            while time.time() < deadline:
                for _ in range(16):
                    ledger.debit(rng.choice(accounts), rng.randint(1, 1_000), LIMIT)
                done += 16
        else:
            while time.time() < deadline:
                reqs = [(rng.choice(accounts), rng.randint(1, 1_000), LIMIT) for _ in range(batch)]
                ledger.debit_many(reqs)
                done += batch
        elapsed = time.time() - start_at
        ledger.close()
        outbox.put((done, elapsed))


class Pool:
    """Persistent worker processes (spawned once), each with its own task queue."""

    def __init__(self, size: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(size)]
        self.procs = [
            ctx.Process(target=worker, args=(inbox, self.outbox, seed), daemon=True)
            for seed, inbox in enumerate(self.inboxes)
        ]
        for proc in self.procs:
            proc.start()

    def run(self, config: Config, workers: int, mode: str, batch: int, seconds: float) -> float:
        """Debits per second over ``workers`` processes starting together."""
        start_at = time.time() + 0.5 + 0.05 * workers
        for inbox in self.inboxes[:workers]:
            inbox.put((config, mode, batch, start_at, seconds))
        results = [self.outbox.get(timeout=seconds + 60) for _ in range(workers)]
        total = sum(done for done, _ in results)
        return float(total / max(elapsed for _, elapsed in results))

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for proc in self.procs:
            proc.join(10)


def reset(config: Config) -> None:
    """Start each run from an empty store of the right durability."""
    if config.backend == "redis":
        import redis

        client = redis.Redis.from_url(config.target)
        client.flushall()
        client.config_set("appendfsync", config.sync)
        client.close()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(config.target + suffix).unlink(missing_ok=True)
        open_ledger(config).close()


def print_ratios(figures: dict[tuple[str, str, int, str], float], worker_counts: list[int]) -> None:
    print("\nRedis / SQLite (same durability class):")
    for redis_sync, sqlite_sync in (("always", "FULL"), ("everysec", "NORMAL")):
        for workers in worker_counts:
            for mode in ("single", "batched"):
                r = figures[("redis", redis_sync, workers, mode)]
                s = figures[("sqlite", sqlite_sync, workers, mode)]
                print(
                    f"  fsync {redis_sync:<8} / {sqlite_sync:<6} {workers} worker(s) {mode:<8} "
                    f"{r / s:5.2f}x"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--batch", type=int, default=32, help="requests per debit_many()")
    parser.add_argument("--workers", default="1,8", help="worker counts, comma-separated")
    parser.add_argument("--backends", default="sqlite,redis", help="comma-separated")
    args = parser.parse_args()
    backends = set(args.backends.split(","))
    worker_counts = [int(n) for n in args.workers.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="bench_ledger_"))
    redis_server = start_redis(tmp)
    url = redis_server.url
    pool = Pool(max(worker_counts))
    configs = [
        Config("sqlite", "FULL", str(tmp / "ledger.db")),
        Config("sqlite", "NORMAL", str(tmp / "ledger.db")),
        Config("redis", "always", url),
        Config("redis", "everysec", url),
    ]
    configs = [config for config in configs if config.backend in backends]
    load = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load {load:.2f}; {args.runs} runs of {args.seconds:g}s each; "
        f"batch {args.batch}; {ACCOUNTS:,} accounts"
    )
    print(f"{'backend':<8} {'durability':<16} {'workers':>7} {'mode':<8} "
          f"{'debits/s':>10}   runs")  # fmt: skip
    figures: dict[tuple[str, str, int, str], float] = {}
    try:
        for config in configs:
            for workers in worker_counts:
                for mode in ("single", "batched"):
                    rates = []
                    for _ in range(args.runs):
                        reset(config)
                        rates.append(pool.run(config, workers, mode, args.batch, args.seconds))
                    median = statistics.median(rates)
                    figures[(config.backend, config.sync, workers, mode)] = median
                    durability = "synchronous=" if config.backend == "sqlite" else "fsync "
                    print(
                        f"{config.backend:<8} {durability + config.sync:<16} {workers:>7} "
                        f"{mode:<8} {median:>10,.0f}   "
                        + " ".join(f"{rate:,.0f}" for rate in rates),
                        flush=True,
                    )
    finally:
        pool.close()
        redis_server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    if backends >= {"sqlite", "redis"}:
        print_ratios(figures, worker_counts)
    if 8 in worker_counts:
        print("\nTargets with 8 workers, one debit per call (single):")
        for backend, sync in (("sqlite", "FULL"), ("sqlite", "NORMAL"),
                              ("redis", "always"), ("redis", "everysec")):  # fmt: skip
            if (backend, sync, 8, "single") not in figures:
                continue
            rate = figures[(backend, sync, 8, "single")]
            verdict = "meets" if rate >= TARGETS[backend] else "misses"
            print(f"  {backend} {sync:<8} {rate:>10,.0f}/s {verdict} {TARGETS[backend]:,}/s")
