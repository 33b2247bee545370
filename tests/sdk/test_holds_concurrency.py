"""Holds under contention: eight processes reserving and settling on one wallet never overspend;
Redis killed and restarted mid-run loses no settled debit and applies none twice."""

from __future__ import annotations

from tests.support.ledger_workers import Job, hold_worker, open_ledger, race
from tests.support.redis_server import LosingProxy, kill_twice_while
from tests.support.sdk import NOON, FakeClock
from venice_ops.bench.redis import RedisServer
from venice_sdk.ledger import RedisLedger

WORKERS = 8
PER_WORKER = 150
WALLET = "0x00000000000000000000000000000000000000ee"


def test_eight_processes_reserving_and_settling_never_overspend(
    backend: str, ledger_target: str
) -> None:
    open_ledger(backend, ledger_target, NOON).close()  # create the schema before the race
    # Worst cases average 500 and actuals about 300: 8 * 150 holds ask far more than 150k.
    limit = 150_000
    job = Job(backend, ledger_target, NOON, WALLET, limit, PER_WORKER)
    reports = race(hold_worker, (job,), processes=WORKERS, timeout=180)
    settled = [cost for _, costs, _, _ in reports for cost in costs]
    refused = sum(r for _, _, r, _ in reports)
    released = sum(r for _, _, _, r in reports)
    assert len(settled) + refused + released == WORKERS * PER_WORKER
    assert refused, "the race never reached the limit"
    ledger = open_ledger(backend, ledger_target, NOON)
    try:
        assert ledger.spent(WALLET) == sum(settled) <= limit
        assert ledger.held(WALLET) == 0
    finally:
        ledger.close()


def test_a_redis_restart_mid_run_loses_no_settled_debit(
    own_redis: RedisServer, clock: FakeClock
) -> None:
    """A thread reserves and settles non-stop while the server is SIGKILLed and restarted
    twice: every acknowledged settlement is in the ledger exactly once, no hold is left."""
    ledger = RedisLedger(own_redis.url, clock=clock, retry_for=15.0, socket_timeout=2.0)

    def reserve_and_settle(i: int) -> int:
        hold = ledger.reserve(WALLET, 100, 10**12, f"r{i}")
        assert hold.allowed
        return ledger.settle(hold, i % 97 + 1).cost

    acked = kill_twice_while(own_redis, reserve_and_settle)
    assert len(acked) > 50
    assert ledger.spent(WALLET) == sum(acked)
    assert ledger.held(WALLET) == 0
    ledger.close()


def test_lost_replies_of_reserve_and_settle_count_once(
    redis_server: RedisServer, clock: FakeClock
) -> None:
    """A real connection drop after the server ran the script: the retry finds the hold (or the
    settlement) and applies nothing twice."""
    import redis

    admin = redis.Redis(port=redis_server.port)
    admin.flushdb()
    proxy = LosingProxy(redis_server.port)
    ledger = RedisLedger(proxy.url, clock=clock, direct=False)
    try:
        ledger.spent(WALLET)  # a first command, so the proxy sees the connection
        proxy.lose()
        hold = ledger.reserve(WALLET, 500, 1_000, "r1")
        assert proxy.lost == 1, "no reply was lost: the test tests nothing"
        assert hold.allowed and hold.held == 500
        proxy.lose()
        done = ledger.settle(hold, 200)
        assert proxy.lost == 2
        assert done.cost == 200 and done.spent == 200
        assert ledger.spent(WALLET) == 200 and ledger.held(WALLET) == 0
    finally:
        ledger.close()
        proxy.close()
        admin.close()
