"""Eight processes, or eight threads sharing one ledger, debit one wallet at once: never more
than the limit, nothing lost; a forked child never uses its parent's Redis connection."""

from __future__ import annotations

import multiprocessing
import random
import shutil
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.ledger_workers import Job, debit_worker, open_ledger, race
from tests.support.sdk import NO_REDIS, NOON, FakeClock
from venice_sdk.ledger import CreditLedger, RedisLedger

WORKERS = 8
PER_WORKER = 250
WALLET = "0x00000000000000000000000000000000000000aa"


def test_eight_processes_never_overspend(backend: str, ledger_target: str) -> None:
    open_ledger(backend, ledger_target, NOON).close()  # create the schema before the race
    # Demand is about 8 * 250 * 500 = 1M micro-USD against a limit of 400k: about 40% fits, so
    # the race runs right up to the limit and past it.
    limit = 400_000
    job = Job(backend, ledger_target, NOON, WALLET, limit, PER_WORKER)
    reports = race(debit_worker, (job,), processes=WORKERS, timeout=120)
    allowed = [cost for _, ok, _ in reports for cost in ok]
    refused = [cost for _, _, no in reports for cost in no]
    assert len(allowed) + len(refused) == WORKERS * PER_WORKER
    ledger = open_ledger(backend, ledger_target, NOON)
    spent = ledger.spent(WALLET)
    ledger.close()
    assert spent == sum(allowed)
    assert spent <= limit
    # Spend only grows, so every refused cost was more than what is left now.
    assert refused, "the race never reached the limit"
    assert limit - spent < min(refused)


def test_eight_threads_sharing_one_ledger_never_overspend(
    make_ledger: Callable[..., CreditLedger], clock: FakeClock
) -> None:
    """One ledger object shared by threads (a server's thread pool): each thread's debits go
    over its own connection, so no reply is read by the wrong thread."""
    ledger = make_ledger(clock)
    limit = 400_000
    barrier = threading.Barrier(WORKERS)
    allowed: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(PER_WORKER):
                cost = rng.randint(1, 1_000)
                outcome = ledger.debit(WALLET, cost, limit)
                assert outcome.spent <= limit and outcome.cost == cost
                with lock:
                    (allowed if outcome.allowed else refused).append(cost)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(allowed) + len(refused) == WORKERS * PER_WORKER
    spent = ledger.spent(WALLET)
    assert spent == sum(allowed) <= limit
    assert refused, "the race never reached the limit"
    assert limit - spent < min(refused)


def _forked_child(ledger: RedisLedger, inherited: Any, out: Any) -> None:
    try:
        assert ledger._connection() is not inherited, "the child reused its parent's socket"
        spent = [ledger.debit(WALLET, 1, 10**9).spent for _ in range(PER_WORKER)]
        ledger.close()  # must not close the parent's socket
        out.put(("ok", spent))
    except BaseException as exc:
        out.put(("error", repr(exc)))


@pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)
def test_a_forked_child_opens_its_own_redis_connection(redis_url: str) -> None:
    """Parent and forked child debit through one ledger object at the same time, with no
    retries (retry_for=0), so any sharing of the parent's connection would fail."""
    ledger = RedisLedger(redis_url, clock=lambda: NOON, retry_for=0, socket_timeout=2)
    assert ledger.debit(WALLET, 1, 10**9).spent == 1  # the parent's connection is open
    inherited = ledger._connection()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_forked_child, args=(ledger, inherited, out))
    child.start()
    parent_spent = [ledger.debit(WALLET, 1, 10**9).spent for _ in range(PER_WORKER)]
    status, child_spent = out.get(timeout=60)
    child.join(30)
    assert status == "ok", child_spent
    assert child.exitcode == 0
    # Each side saw its own replies: every total it was told is distinct and increasing.
    assert parent_spent == sorted(set(parent_spent))
    assert child_spent == sorted(set(child_spent))
    assert set(parent_spent).isdisjoint(child_spent)
    # The parent's connection survived the child's close().
    assert ledger._connection() is inherited
    assert ledger.debit(WALLET, 1, 10**9).spent == 2 + 2 * PER_WORKER
    ledger.close()
