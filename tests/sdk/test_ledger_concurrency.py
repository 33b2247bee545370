"""Eight processes debit one wallet at once: never more than the limit, nothing lost."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.sdk.conftest import NOON
from tests.sdk.workers import debit_worker, open_ledger

WORKERS = 8
PER_WORKER = 250
WALLET = "0x00000000000000000000000000000000000000aa"


def test_eight_processes_never_overspend(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = (
        str(request.getfixturevalue("redis_url")) if backend == "redis" else str(tmp_path / "l.db")
    )
    open_ledger(backend, target, NOON).close()  # create the schema before the race
    # Demand is about 8 * 250 * 500 = 1M micro-USD against a limit of 400k: about 40% fits, so
    # the race runs right up to the limit and past it.
    limit = 400_000
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=debit_worker,
            args=(backend, target, NOON, WALLET, limit, seed, PER_WORKER, barrier, results),
        )
        for seed in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    allowed = [cost for _, ok, _ in reports for cost in ok]
    refused = [cost for _, _, no in reports for cost in no]
    assert len(allowed) + len(refused) == WORKERS * PER_WORKER
    ledger = open_ledger(backend, target, NOON)
    spent = ledger.spent(WALLET)
    ledger.close()
    assert spent == sum(allowed)
    assert spent <= limit
    # Spend only grows, so every refused cost was more than what is left now.
    assert refused, "the race never reached the limit"
    assert limit - spent < min(refused)
