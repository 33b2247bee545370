"""Redis going away mid-run: committed debits survive, none is applied twice or half-way."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.support.redis_server import LosingProxy, kill_twice_while
from tests.support.sdk import NO_REDIS, FakeClock
from venice_ops.bench.redis import RedisServer, free_port
from venice_sdk.ledger import LedgerUnavailable, RedisLedger
from venice_sdk.ledger.redis import _DEBIT_LUA
from venice_sdk.ratelimit import Limits, RedisRateLimiter
from venice_sdk.usage import RedisUsageStore, UsageRecord

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)

redis = pytest.importorskip("redis")
WALLET = "0x00000000000000000000000000000000000000bb"
LIMIT = 10**12


@pytest.mark.parametrize("how", ["shutdown", "sigkill"])
def test_restart_keeps_committed_debits(own_redis: RedisServer, clock: FakeClock, how: str) -> None:
    ledger = RedisLedger(own_redis.url, clock=clock, retry_for=0.3)
    assert ledger.debit(WALLET, 100, 1_000).allowed
    assert ledger.debit(WALLET, 250, 1_000).allowed
    own_redis.shutdown() if how == "shutdown" else own_redis.kill()

    # Down: a clear error, after retrying for retry_for seconds.
    with pytest.raises(LedgerUnavailable, match="redis unreachable"):
        ledger.debit(WALLET, 1, 1_000)
    with pytest.raises(LedgerUnavailable):
        ledger.spent(WALLET)

    own_redis.start()  # same port, same directory: the append-only file is replayed
    # The same ledger object reconnects by itself; the script cache is empty now (EVAL fallback).
    assert ledger.spent(WALLET) == 350
    outcome = ledger.debit(WALLET, 650, 1_000)
    assert outcome.allowed and outcome.spent == 1_000
    assert not ledger.debit(WALLET, 1, 1_000).allowed
    ledger.close()


def test_kill_during_a_stream_of_debits_loses_and_doubles_nothing(
    own_redis: RedisServer, clock: FakeClock
) -> None:
    """A thread debits non-stop while the server is SIGKILLed and restarted twice."""
    ledger = RedisLedger(own_redis.url, clock=clock, retry_for=15.0, socket_timeout=2.0)

    def debit(i: int) -> int:
        cost = (i - 1) % 97 + 1
        assert ledger.debit(WALLET, cost, LIMIT).allowed
        return cost

    acked = kill_twice_while(own_redis, debit)
    assert len(acked) > 100
    # Every acknowledged debit is there exactly once: none lost to the kill, none applied
    # twice by a retry whose first reply was lost.
    assert ledger.spent(WALLET) == sum(acked)
    ledger.close()


class LosesReplies(redis.Redis):  # type: ignore[misc]
    """A client whose first script call runs on the server but whose reply is 'lost' (for
    debits sent through the client's methods: ``direct=False``)."""

    lose = 1

    def execute_command(self, *args: Any, **options: Any) -> Any:
        result = super().execute_command(*args, **options)
        if args[0] in ("EVALSHA", "EVAL") and self.lose:
            self.lose -= 1
            raise redis.ConnectionError("connection reset (reply lost)")
        return result


@pytest.mark.parametrize("script_cached", [False, True])
def test_a_retried_debit_whose_reply_was_lost_counts_once(
    redis_url: str, clock: FakeClock, script_cached: bool
) -> None:
    client = LosesReplies.from_url(redis_url)
    if script_cached:
        client.script_load(_DEBIT_LUA)
    else:
        client.script_flush()
    ledger = RedisLedger(client, clock=clock, direct=False)
    outcome = ledger.debit(WALLET, 40, 100)
    assert client.lose == 0, "the reply was not lost: the test tests nothing"
    assert outcome.allowed and outcome.spent == 40
    assert ledger.spent(WALLET) == 40  # not 80
    last = ledger.debit(WALLET, 60, 100)
    assert last.allowed and last.spent == 100
    ledger.close()


def test_a_batch_retried_after_a_lost_reply_counts_once(redis_url: str, clock: FakeClock) -> None:
    ledger = RedisLedger(redis_url, clock=clock, direct=False)
    real_pipeline = ledger.client.pipeline
    lost = [True]

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            result = real_execute(*a, **k)
            if lost[0]:
                lost[0] = False
                raise redis.ConnectionError("reply lost")
            return result

        pipe.execute = execute
        return pipe

    ledger.client.pipeline = pipeline  # type: ignore[method-assign]
    results = ledger.debit_many([(WALLET, 10, 100), ("key_c", 5, 5), (WALLET, 95, 100)])
    assert not lost[0], "no reply was lost: the test tests nothing"
    assert [r.allowed for r in results] == [True, True, False]
    assert ledger.spent(WALLET) == 10 and ledger.spent("key_c") == 5
    ledger.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "client"])
@pytest.mark.parametrize("script_cached", [False, True], ids=["cold", "cached"])
def test_replies_lost_on_the_wire_are_retried_and_count_once(
    redis_server: RedisServer, clock: FakeClock, direct: bool, script_cached: bool
) -> None:
    """A real connection drop between the server running the script and the client reading
    its reply, for one debit and for a batch, on either way of sending debits."""
    admin = redis.Redis(port=redis_server.port)
    admin.flushdb()
    proxy = LosingProxy(redis_server.port)
    ledger = RedisLedger(proxy.url, clock=clock, direct=direct)
    try:
        if script_cached:
            admin.script_load(_DEBIT_LUA)
        else:
            admin.script_flush()
        proxy.lose()
        outcome = ledger.debit(WALLET, 40, 100)
        assert proxy.lost == 1, "no reply was lost: the test tests nothing"
        assert outcome.allowed and outcome.spent == 40 and outcome.remaining == 60
        assert ledger.spent(WALLET) == 40  # not 80

        if not script_cached:
            admin.script_flush()
        proxy.lose()
        batch = ledger.debit_many([(WALLET, 10, 100), ("key_c", 5, 5), (WALLET, 51, 100)])
        assert proxy.lost == 2
        assert [(d.allowed, d.spent) for d in batch] == [(True, 50), (True, 5), (False, 50)]
        assert ledger.spent(WALLET) == 50 and ledger.spent("key_c") == 5  # not 60 and 10

        last = ledger.debit(WALLET, 50, 100)
        assert last.allowed and last.spent == 100
        assert not ledger.debit(WALLET, 1, 100).allowed
    finally:
        ledger.close()
        proxy.close()
        admin.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "through-the-client"])
def test_a_read_only_replica_is_unavailable_not_an_error(
    own_redis: RedisServer, clock: FakeClock, direct: bool
) -> None:
    """A URL that names a replica, or a failover under way, leaves the ledger on a server that
    answers PING and refuses every write (READONLY). Before, readiness said ready and each
    debit, reserve and key issue raised redis-py's ReadOnlyError (a 500); now each is retried
    for ``retry_for`` and then `LedgerUnavailable` (`KeyStoreUnavailable` for keys): a 503,
    and readiness says so. Nothing is debited meanwhile, and all is well once it is a primary
    again."""
    from venice_sdk.auth import KeyStoreUnavailable
    from venice_sdk.auth.redis_keys import RedisKeyStore

    ledger = RedisLedger(own_redis.url, clock=clock, retry_for=0.3, direct=direct)
    keys = RedisKeyStore.from_url(own_redis.url)
    limiter, usage = RedisRateLimiter(own_redis.url), RedisUsageStore(own_redis.url)
    admin = redis.Redis(port=own_redis.port)
    try:
        assert ledger.debit(WALLET, 100, 1_000).allowed
        ledger.ping()
        admin.replicaof("127.0.0.1", free_port())  # a primary that is not there
        with pytest.raises(LedgerUnavailable, match="refuses writes"):
            ledger.ping()
        with pytest.raises(LedgerUnavailable, match="redis unreachable"):
            ledger.debit(WALLET, 1, 1_000)
        with pytest.raises(LedgerUnavailable):
            ledger.reserve(WALLET, 1, 1_000, "r1")
        with pytest.raises(KeyStoreUnavailable, match="refuses writes"):
            keys.issue(WALLET, True)
        # the rate limits and the usage records on the same Redis (a 500 before: their own
        # error lists had only a dropped connection and a timeout)
        with pytest.raises(LedgerUnavailable, match="while rate limiting"):
            limiter.hit("key_a", Limits(10, 1_000))
        with pytest.raises(LedgerUnavailable, match="redis unavailable"):
            usage.record(_usage_record("r1"))
        admin.replicaof("NO", "ONE")
        ledger.ping()
        assert ledger.spent(WALLET) == 100 and ledger.held(WALLET) == 0
        assert ledger.debit(WALLET, 1, 1_000).spent == 101
        assert keys.issue(WALLET, True).key.startswith("vvk_")
        assert limiter.hit("key_a", Limits(10, 1_000)).allowed
        usage.record(_usage_record("r1"))
    finally:
        ledger.close()
        limiter.close()
        usage.close()
        admin.close()


def _usage_record(request_id: str) -> UsageRecord:
    return UsageRecord(request_id, "key_a", WALLET, "tiny", 5, 7, 0, 26, 100, 1e9, 11_574,
                       "complete")  # fmt: skip
