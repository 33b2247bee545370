"""The gateway's event-loop metering on Redis: `AutoPipeline` (one write for the commands of a
loop iteration, a stuck or absent Redis failing in time, reconnecting after a restart, scripts
sent again after the server forgot them), `AsyncHolds` (the same ledger as `RedisLedger`'s own
calls) and `make_meter` (the event loop's path only where every store allows it)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.fake_gate import ALICE, BOB, FakeEntitlements, make_gate
from venice_ops.bench.redis import free_port
from venice_sdk.auth import AuthError, KeyStoreUnavailable, RedisKeyStore
from venice_sdk.entitlements import EntitlementUnavailable
from venice_sdk.errors import Reason
from venice_sdk.gateway.meter import Meter, RedisMeter, Served, make_meter
from venice_sdk.gateway.stream import Usage
from venice_sdk.ledger import HoldError, LedgerUnavailable, RedisLedger, SQLiteLedger
from venice_sdk.ledger.aio import AsyncHolds
from venice_sdk.ledger.pipeline import AutoPipeline, ReplyError
from venice_sdk.ratelimit import Limits, LocalRateLimiter, RateLimitPolicy, RedisRateLimiter
from venice_sdk.usage import RedisUsageStore


def _pipe(url: str, **options: Any) -> AutoPipeline:
    pipe = AutoPipeline.like(redis.Redis.from_url(url), **options)
    assert pipe is not None
    return pipe


def test_the_commands_of_one_loop_iteration_go_out_in_one_write(redis_url: str) -> None:
    pipe = _pipe(redis_url)
    writes: list[int] = []

    async def run() -> list[Any]:
        await pipe.call("PING")  # connected
        transport = pipe._protocol.transport  # type: ignore[union-attr]
        write = transport.write

        def counted(data: bytes) -> None:
            writes.append(len(data))
            write(data)

        pipe._protocol.transport = _Spy(transport, counted)  # type: ignore[union-attr]
        replies = await asyncio.gather(*(pipe.call("INCR", "n") for _ in range(200)))
        errors = await pipe.batch(("INCR", "n"), ("HGET", "n", "x"), ("INCR", "n"))
        await pipe.close()
        return [replies, errors]

    replies, errors = asyncio.run(run())
    assert replies == list(range(1, 201))  # every caller got its own reply, in order
    assert len(writes) == 2  # 200 concurrent commands in one write, then the batch
    # One command's error reply is its own: the others of its batch went through.
    assert errors[0] == 201 and isinstance(errors[1], ReplyError) and errors[2] == 202


class _Spy:
    def __init__(self, transport: Any, write: Any) -> None:
        self._transport, self.write = transport, write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def test_a_redis_that_never_answers_fails_in_time_and_nothing_hangs() -> None:
    async def run() -> tuple[float, float]:
        # A server that accepts and reads, and never answers (a hung Redis).
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(65536):
                pass

        server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pipe = AutoPipeline("127.0.0.1", port, timeout=0.2, retry_for=0.6)
        began = time.monotonic()
        with pytest.raises(LedgerUnavailable, match=r"did not answer within 0\.2s"):
            await asyncio.gather(pipe.call("PING"), pipe.call("PING"))
        once = time.monotonic() - began
        began = time.monotonic()
        with pytest.raises(LedgerUnavailable, match=r"unreachable while pinging for 0\.6s"):
            await pipe.retrying("pinging", lambda: pipe.call("PING"))
        retried = time.monotonic() - began
        server.close()
        return once, retried

    once, retried = asyncio.run(run())
    assert 0.2 <= once < 1.0
    assert 0.5 <= retried < 2.0


@pytest.mark.parametrize("refusal", [b"", b"-ERR max number of clients reached\r\n"])
def test_a_server_that_accepts_and_drops_the_connection_fails_each_command_at_once(
    refusal: bytes,
) -> None:
    """A proxy in front of a Redis that is down accepts the connection and closes it (a Redis
    at maxclients, or in protected mode, says why first): every command fails at once with
    `LedgerUnavailable`, so a key lookup is a 503 and a request never waits for ever (the
    connection was lost before the command went out: it was queued on it, unanswered and
    with no timer)."""

    async def run() -> list[str]:
        async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(refusal)
            writer.close()

        server = await asyncio.start_server(drop, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pipe = AutoPipeline("127.0.0.1", port, timeout=0.2, retry_for=0.3)
        errors = []
        for _ in range(3):
            try:  # (2 s: it waited for ever)
                reply = await asyncio.wait_for(pipe.call("HGETALL", "venice:keys:h:x"), 2)
            except LedgerUnavailable as exc:
                errors.append(str(exc))
            else:  # (the refusal read as the command's reply, had it gone out first)
                assert isinstance(reply, ReplyError) and refusal, reply
                errors.append(str(reply))
        if not refusal:  # an idempotent call retried gives up in its time
            with pytest.raises(LedgerUnavailable, match=r"unreachable while pinging for 0\.3s"):
                await asyncio.wait_for(pipe.retrying("pinging", lambda: pipe.call("PING")), 5)
        await pipe.close()
        server.close()
        return errors

    errors = asyncio.run(run())
    if refusal:  # (the server's own words, for the operator)
        assert all("max number of clients reached" in e for e in errors), errors


def test_a_restarted_redis_is_reconnected_and_its_lost_scripts_sent_again(
    own_redis: Any, tmp_path: Path
) -> None:
    ledger = RedisLedger(own_redis.url)
    pipe = _pipe(own_redis.url, retry_for=0.3)

    async def reserve(rid: str) -> Any:
        return await AsyncHolds(ledger, pipe).reserve(ALICE, 100, 1_000, rid)

    async def run() -> None:
        assert (await reserve("r-1")).allowed
        own_redis.stop()
        with pytest.raises(LedgerUnavailable):
            await reserve("r-2")
        own_redis.start()  # an empty script cache: the hold script is sent again
        hold = await reserve("r-3")
        assert hold.allowed and hold.held == 200  # r-1 (kept on disk) and r-3
        await pipe.close()

    asyncio.run(run())
    ledger.close()


def test_event_loop_holds_and_blocking_holds_are_one_ledger(redis_url: str) -> None:
    ledger = RedisLedger(redis_url)
    pipe = _pipe(redis_url)
    holds = AsyncHolds(ledger, pipe)

    async def run() -> None:
        hold = await holds.reserve(ALICE, 400, 1_000, "a-1")
        again = await holds.reserve(ALICE, 400, 1_000, "a-1")  # idempotent: nothing more
        assert hold.allowed and again.held == 400 and ledger.held(ALICE) == 400
        refused = await holds.reserve(ALICE, 700, 1_000, "a-2")
        assert not refused.allowed and refused.reason == Reason.INSUFFICIENT_CREDIT
        done = ledger.settle("a-1", 150)  # the blocking ledger settles it by id alone
        assert (done.cost, done.released) == (150, 250)
        with pytest.raises(HoldError) as released:
            await holds.release(hold)
        assert released.value.code == Reason.HOLD_SETTLED
        blocking = ledger.reserve(ALICE, 300, 1_000, "b-1")
        settled = await holds.settle(blocking, 10**6)  # capped at the hold
        assert settled.cost == 300 and settled.capped and ledger.spent(ALICE) == 450
        # The same id for another account: refused, and the other account holds nothing.
        with pytest.raises(HoldError) as reused:
            await holds.reserve(BOB, 10, 1_000, "a-1")
        assert reused.value.code == Reason.REQUEST_ID_REUSED
        assert ledger.held(BOB) == 0 and ledger.spent(BOB) == 0
        await pipe.close()

    asyncio.run(run())
    ledger.close()


def test_the_event_loop_path_is_taken_only_where_every_store_allows_it(
    redis_url: str, tmp_path: Path
) -> None:
    ledger = RedisLedger(redis_url)
    gate, _, _ = make_gate(ledger, tmp_path)
    same_db = redis.Redis.from_url(redis_url)
    other_db = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    assert isinstance(make_meter(gate), RedisMeter)
    assert isinstance(
        make_meter(gate, RedisRateLimiter(same_db), None, RedisUsageStore(same_db)), RedisMeter
    )
    # Stores elsewhere, or counted in this process: the blocking path, in worker threads.
    for limiter, usage in (
        (LocalRateLimiter(), None),
        (RedisRateLimiter(other_db), None),
        (None, RedisUsageStore(other_db)),
    ):
        meter = make_meter(gate, limiter, None, usage)
        assert type(meter) is Meter
    for other_ledger in (RedisLedger(redis_url, direct=False), SQLiteLedger(tmp_path / "l.db")):
        assert type(make_meter(make_gate(other_ledger, tmp_path)[0])) is Meter
    ledger.close()


def test_a_loop_held_up_past_the_timeout_still_reads_the_replies_waiting(redis_url: str) -> None:
    """A worker the machine stalled past the timeout (on uvloop, the gateway's loop) must not
    call a Redis that answered in time stuck: the batch's timer must not beat its reply."""
    import uvloop

    pipe = _pipe(redis_url, timeout=0.2, retry_for=0.0)

    async def run() -> Any:
        await pipe.call("PING")
        pending = asyncio.ensure_future(pipe.call("INCR", "stalled"))
        for _ in range(3):  # the call is made, then its batch is written
            await asyncio.sleep(0)
        time.sleep(0.4)  # the loop is held up; Redis answers meanwhile
        reply = await pending
        await pipe.close()
        return reply

    assert uvloop.run(run()) == 1


def test_the_usage_record_rides_the_settles_batch_at_what_the_settle_charged(
    redis_url: str, tmp_path: Path
) -> None:
    """One write settles a request and keeps its usage record (guarded on the settle having
    charged the record's cost); a settle that charged anything else (here: the hold was already
    settled by the blocking ledger) leaves no record from that write, and the record is sent
    again at what was charged. Each request ends with exactly one record, at its debit."""
    ledger = RedisLedger(redis_url)
    gate, keys, _ = make_gate(ledger, tmp_path)
    client = redis.Redis.from_url(redis_url)
    usage = RedisUsageStore(client)
    meter = make_meter(gate, None, None, usage)
    assert isinstance(meter, RedisMeter)
    key = keys.issue(ALICE, True).key
    writes: list[int] = []

    async def finish(request_id: str, hold: int, cost: int, settle_first: int | None) -> int:
        reservation = await meter.reserve(key, request_id, hold, "tiny")
        assert reservation.allowed and reservation.amount == hold
        if settle_first is not None:
            ledger.settle(request_id, settle_first)
        protocol = meter.pipe._protocol
        assert protocol is not None
        transport = protocol.transport
        write = transport.write
        protocol.transport = _Spy(transport, lambda data: (writes.append(len(data)), write(data)))
        try:
            return await meter.finish(reservation, Served("tiny", "complete", cost, Usage(10, 20),
                                                          None))  # fmt: skip
        finally:
            protocol.transport = transport

    async def run() -> None:
        # The first also sends the record script (a new Redis answers NOSCRIPT to its SHA).
        assert await finish("gw-0", 5_000, 66, None) == 10_000_000 - 66
        writes.clear()
        assert await finish("gw-1", 5_000, 1_234, None) == 10_000_000 - 66 - 1_234
        assert len(writes) == 1  # the settle and the record: one write
        writes.clear()
        await finish("gw-2", 500, 10**6, None)  # charged its hold, not its cost
        assert len(writes) == 1
        writes.clear()
        await finish("gw-3", 5_000, 1_234, 700)  # the settle finds 700 charged already
        assert len(writes) == 2  # the guarded record was not kept: sent again
        await meter.close()

    asyncio.run(run())
    records = {r.request_id: r for r in usage.query(wallet=ALICE.lower()).records}
    costs = {"gw-0": 66, "gw-1": 1_234, "gw-2": 500, "gw-3": 700}
    assert {rid: r.cost for rid, r in records.items()} == costs
    assert ledger.spent(ALICE) == sum(costs.values()) == sum(r.cost for r in records.values())
    assert usage.daily(ledger.today(), wallet=ALICE.lower())[0].requests == 4
    ledger.close()


class _ColdEntitlements(FakeEntitlements):
    """A client with nothing cached until ``refresh`` reads the chain (held until ``go`` is
    set, or failing when ``down``); counts those reads, and the `get`s that read the chain
    themselves (the blocking path's)."""

    def __init__(self) -> None:
        super().__init__({ALICE: 10_000_000})
        self.read: set[str] = set()
        self.refreshes = 0
        self.gets = 0
        self.go = threading.Event()

    def get(self, address: str) -> Any:
        if address.lower() not in self.read:  # as a real client: not cached, read the chain
            self.gets += 1
        return super().get(address)

    def cached(self, address: str) -> Any:
        if self.down or address.lower() not in self.read:
            return None
        return FakeEntitlements.get(self, address)  # not counted: the cache, not the chain

    def expires_in(self, address: str) -> float | None:
        return self.ttl if address.lower() in self.read else None

    def refresh(self, addresses: list[str]) -> None:
        self.refreshes += 1
        assert self.go.wait(10)
        if self.down:
            raise EntitlementUnavailable(Reason.RPC_UNAVAILABLE, "the node does not answer")
        self.read.update(a.lower() for a in addresses)


@pytest.mark.parametrize("limits", [False, True], ids=["reserve", "admit-then-reserve"])
def test_a_burst_on_a_wallet_not_cached_makes_one_chain_read_and_meters_on_the_loop(
    redis_url: str, tmp_path: Path, limits: bool
) -> None:
    """20 requests of a wallet whose entitlement is not cached (its first burst after a quiet
    spell) await one read of the chain, then all meter on the event loop: no request reads the
    chain itself (each did, in its own thread: 50-140 ms at 1,000 requests a second)."""
    ledger = RedisLedger(redis_url)
    gate, keys, _ = make_gate(ledger, tmp_path)
    client = _ColdEntitlements()
    gate.client = client  # type: ignore[assignment]
    limiter = RedisRateLimiter(redis_url) if limits else None
    policy = RateLimitPolicy(Limits(1_000, 1_000_000)) if limits else None
    meter = make_meter(gate, limiter, policy)
    assert isinstance(meter, RedisMeter)
    key = keys.issue(ALICE, True).key

    async def one(i: int) -> Any:
        if limits:
            assert await meter.admit(key) is not None
        return await meter.reserve(key, f"r-{i}", 10, "tiny")

    async def run() -> list[Any]:
        burst = [asyncio.ensure_future(one(i)) for i in range(20)]
        await asyncio.sleep(0.2)
        assert client.refreshes == 1 and not any(t.done() for t in burst)  # all wait for it
        client.go.set()
        done = await asyncio.gather(*burst)
        await meter.close()
        return done

    held = asyncio.run(run())
    assert all(r.allowed and r.hold is not None for r in held)
    assert client.refreshes == 1 and client.gets == 0  # one read; none on the blocking path
    assert ledger.held(ALICE) == 20 * 10
    ledger.close()


class _BatchedEntitlements(_ColdEntitlements):
    """`_ColdEntitlements` for many wallets, recording each read's wallets."""

    def __init__(self, wallets: list[str]) -> None:
        super().__init__()
        self.credits = {w.lower(): 10_000_000 for w in wallets}
        self.batches: list[list[str]] = []

    def refresh(self, addresses: list[str]) -> None:
        self.batches.append(list(addresses))
        super().refresh(addresses)


def test_wallets_not_cached_at_once_are_read_together_and_those_after_in_the_next_read(
    redis_url: str, tmp_path: Path
) -> None:
    """The first requests of 40 wallets not cached, arriving together, await one read of the
    chain for all of them (one call each was 40 calls, each most of a millisecond of Python
    against the event loop); 10 more arriving while it runs are the next read's, together;
    a malformed wallet among them is refused alone, its batch read."""
    wallets = [f"0x{0x5000 + i:040x}" for i in range(50)]
    ledger = RedisLedger(redis_url)
    gate, keys, _ = make_gate(ledger, tmp_path)
    client = _BatchedEntitlements(wallets)
    gate.client = client  # type: ignore[assignment]
    meter = make_meter(gate)
    assert isinstance(meter, RedisMeter)
    issued = [keys.issue(w, True).key for w in wallets]

    async def run() -> tuple[list[Any], Any]:
        first = [asyncio.ensure_future(meter.reserve(k, f"a-{i}", 10, "tiny"))
                 for i, k in enumerate(issued[:40])]  # fmt: skip
        await asyncio.sleep(0.2)
        assert client.refreshes == 1 and not any(t.done() for t in first)
        later = [asyncio.ensure_future(meter.reserve(k, f"b-{i}", 10, "tiny"))
                 for i, k in enumerate(issued[40:])]  # fmt: skip
        malformed = asyncio.ensure_future(meter._cached("0x1234"))
        await asyncio.sleep(0.2)
        assert client.refreshes == 1  # the next read waits for this one
        client.go.set()
        done = await asyncio.gather(*first, *later)
        refused = await malformed
        await meter.close()
        return done, refused

    done, refused = asyncio.run(run())
    assert all(r.allowed and r.hold is not None for r in done)
    assert refused is False  # (the blocking path then says why)
    assert [len(b) for b in client.batches] == [40, 10]
    assert sorted(a.lower() for b in client.batches for a in b) == sorted(wallets)
    assert client.gets == 0 and not meter._reads
    ledger.close()


def test_when_the_one_read_fails_the_burst_is_refused_by_the_blocking_path_with_its_reason(
    redis_url: str, tmp_path: Path
) -> None:
    """The shared read failing (the node down) sends its waiters to the blocking path, which
    refuses them with the node's reason; nothing is held, and the next request reads again."""
    ledger = RedisLedger(redis_url)
    gate, keys, _ = make_gate(ledger, tmp_path)
    client = _ColdEntitlements()
    client.down = True
    client.go.set()
    gate.client = client  # type: ignore[assignment]
    meter = make_meter(gate)
    key = keys.issue(ALICE, True).key

    async def run() -> list[Any]:
        done = await asyncio.gather(*(meter.reserve(key, f"r-{i}", 10, "tiny") for i in range(8)))
        client.down = False
        done.append(await meter.reserve(key, "r-after", 10, "tiny"))
        await meter.close()
        return done

    refused, after = (lambda d: (d[:-1], d[-1]))(asyncio.run(run()))
    assert all(not r.allowed and r.reason == Reason.RPC_UNAVAILABLE for r in refused)
    assert client.refreshes == 2  # one for the eight, one for the request after
    assert after.allowed and ledger.held(ALICE) == 10
    ledger.close()


def _meter_over(
    redis_url: str, tmp_path: Path, client: FakeEntitlements, limits: bool = False
) -> tuple[RedisLedger, RedisMeter, str]:
    """A `RedisMeter` on ``redis_url`` reading entitlements from ``client`` (with rate limits
    if ``limits``): its ledger, the meter and a key of ALICE."""
    ledger = RedisLedger(redis_url)
    gate, keys, _ = make_gate(ledger, tmp_path)
    gate.client = client  # type: ignore[assignment]
    limiter = RedisRateLimiter(redis_url) if limits else None
    policy = RateLimitPolicy(Limits(1_000, 1_000_000)) if limits else None
    meter = make_meter(gate, limiter, policy)
    assert isinstance(meter, RedisMeter)
    return ledger, meter, keys.issue(ALICE, True).key


class _NeverCached(FakeEntitlements):
    """A client caching nothing (``ttl`` 0, as ``--ttl 0`` makes it): every step reads the
    chain; counts those reads."""

    ttl = 0.0

    def __init__(self) -> None:
        super().__init__({ALICE: 10_000_000})
        self.reads = 0

    def get(self, address: str) -> Any:
        self.reads += 1
        return super().get(address)

    def cached(self, address: str) -> Any:
        return None

    def refresh(self, addresses: list[str]) -> None:
        self.reads += 1


def test_an_entitlement_cache_of_0_seconds_reads_the_chain_once_per_step(
    redis_url: str, tmp_path: Path
) -> None:
    """With nothing ever cached, a request's admission and its hold read the chain once each
    on the blocking path: no read ahead of them to fill a cache that keeps nothing (each step
    read it twice, one after the other)."""
    client = _NeverCached()
    ledger, meter, key = _meter_over(redis_url, tmp_path, client, limits=True)

    async def run() -> Any:
        assert await meter.admit(key) is not None
        held = await meter.reserve(key, "r-1", 10, "tiny")
        await meter.close()
        return held

    assert asyncio.run(run()).allowed and ledger.held(ALICE) == 10
    assert client.reads == 2
    ledger.close()


class _ExpiringEntitlements(FakeEntitlements):
    """A client whose cache expires ``ttl`` seconds after each read of the chain (``refresh``),
    on a clock the test moves; counts the refreshes and the misses."""

    ttl = 2.0

    def __init__(self) -> None:
        super().__init__({ALICE: 10_000_000})
        self.now = 1_000.0
        self.fresh_until = self.now + self.ttl
        self.refreshes = 0
        self.misses = 0
        self.slow = threading.Event()  # set: a refresh returns

    def cached(self, address: str) -> Any:
        if self.now >= self.fresh_until:
            self.misses += 1
            return None
        return super().cached(address)

    def expires_in(self, address: str) -> float | None:
        left = self.fresh_until - self.now
        return left if left > 0 else None

    def refresh(self, addresses: list[str]) -> None:
        self.refreshes += 1
        assert self.slow.wait(10)
        self.fresh_until = self.now + self.ttl


def test_a_wallet_in_use_is_refreshed_ahead_of_its_expiry_once_and_never_misses(
    redis_url: str, tmp_path: Path
) -> None:
    """Past half its TTL, a wallet's entitlement is read again in the background, once however
    many requests come meanwhile, and they all meter on the event loop with the cached one."""
    client = _ExpiringEntitlements()
    ledger, meter, key = _meter_over(redis_url, tmp_path, client)

    async def run() -> None:
        first = await meter.reserve(key, "r-0", 10, "tiny")  # 2 s left: nothing to do
        assert first.allowed and client.refreshes == 0
        client.now += 1.5  # 0.5 s left: past half the TTL
        held = await asyncio.gather(*(meter.reserve(key, f"r-{i}", 10, "tiny")
                                      for i in range(1, 21)))  # fmt: skip
        assert all(r.allowed for r in held)
        await asyncio.sleep(0.2)
        assert client.refreshes == 1  # one read for the 20 requests, still under way
        client.slow.set()
        await refreshed()
        client.now += 1.5  # past the old expiry: the refreshed entry is still fresh
        late = await meter.reserve(key, "r-21", 10, "tiny")
        assert late.allowed and late.hold is not None
        await refreshed()
        await meter.close()

    async def refreshed() -> None:
        for _ in range(250):
            if not meter._reads:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the refresh did not end")

    asyncio.run(run())
    assert client.misses == 0  # no request had to read the chain itself
    assert client.refreshes == 2  # the one above, and the next once half its TTL had gone
    ledger.close()


def test_a_read_ahead_failing_unexpectedly_is_logged(
    redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read ahead of expiry that nobody awaits, failing with anything but the node's
    `EntitlementError` (a bug), is logged with its traceback (its exception was retrieved and
    dropped: nothing said why each expiry then failed the wallet's next requests)."""

    class Broken(_ExpiringEntitlements):
        def refresh(self, addresses: list[str]) -> None:
            raise RuntimeError("the lens answered nonsense")

    client = Broken()
    ledger, meter, key = _meter_over(redis_url, tmp_path, client)

    async def run() -> None:
        client.now += 1.5  # past half the TTL: read ahead
        assert (await meter.reserve(key, "r-1", 10, "tiny")).allowed
        for _ in range(250):
            if not meter._reads:
                break
            await asyncio.sleep(0.02)
        await meter.close()

    asyncio.run(run())
    failed = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    assert failed and "the lens answered nonsense" in str(failed[0].exc_info[1])
    ledger.close()


def test_keys_in_the_ledgers_redis_are_read_on_the_meters_own_connection(
    redis_url: str, tmp_path: Path
) -> None:
    """The fleet's keys in the ledger's Redis (the gateway's default with ``--redis-url``): the
    event loop's path reads a presented key with one HGETALL on its own connection (never the
    store's blocking client), checked as the store checks it (its pepper; revoked, expired,
    unknown), and a Redis that does not answer is `key_store_unavailable` (a 503). Keys in
    another database take the blocking path."""
    ledger = RedisLedger(redis_url)
    gate, _, _ = make_gate(ledger, tmp_path)
    now = [time.time()]
    keys = RedisKeyStore(ledger.client, pepper=b"fleet", clock=lambda: now[0])
    gate.keys = keys
    meter = make_meter(gate)
    assert isinstance(meter, RedisMeter) and meter.redis_keys is keys
    good = keys.issue(ALICE, True, label="good")
    revoked = keys.issue(ALICE, True)
    keys.revoke(revoked.key_id)
    expiring = keys.issue(ALICE, True, expires_at=now[0] + 60)
    now[0] += 61

    def blocking(*args: Any) -> Any:
        raise AssertionError("the store's blocking client was used on the event loop")

    keys.client.hgetall = blocking  # type: ignore[method-assign]

    async def run() -> list[Any]:
        found = await meter.resolve(good.key)
        refusals = []
        for key in (revoked.key, expiring.key, good.key + "x", "not-a-key"):
            with pytest.raises(AuthError) as refused:
                await meter.resolve(key)
            refusals.append(refused.value.code)
        meter.pipe.port = free_port()  # (nothing listens there: Redis "down")
        await meter.pipe.close()
        with pytest.raises(KeyStoreUnavailable) as down:
            await meter.resolve(good.key)
        await meter.close()
        return [found, refusals, down.value.code]

    found, refusals, down = asyncio.run(run())
    assert found.key_id == good.key_id and found.label == "good" and found.address == ALICE
    assert refusals == ["key_revoked", "key_expired", "unknown_key", "unknown_key"]
    assert down == "key_store_unavailable"
    other_db = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    gate.keys = RedisKeyStore(other_db)
    assert type(make_meter(gate)) is Meter
    ledger.close()


def test_a_read_queued_as_its_event_loop_ends_leaves_no_wallet_waiting_in_the_next(
    redis_url: str, tmp_path: Path
) -> None:
    """A wallet's read queued in the last step of an event loop (a read ahead of expiry
    as a request ends: a test client's portal, a worker stopping) is cancelled before its
    reader ever ran: its waiters are told, and the meter's next loop reads wallets again
    (the reader left behind, never run, made every later read wait forever)."""
    ledger = RedisLedger(redis_url)
    gate, _, _ = make_gate(ledger, tmp_path)
    client = _ColdEntitlements()
    client.go.set()
    gate.client = client  # type: ignore[assignment]
    meter = make_meter(gate)
    assert isinstance(meter, RedisMeter)
    left: list[asyncio.Future[None]] = []

    async def ending() -> None:  # another task queues a read in the loop's last step
        asyncio.get_running_loop().call_soon(lambda: left.append(meter._read(BOB)))

    async def next_loop() -> bool:
        return await asyncio.wait_for(meter._cached(ALICE), 5)

    asyncio.run(ending())
    assert left[0].done() and isinstance(left[0].exception(), EntitlementUnavailable)
    assert asyncio.run(next_loop()) is True
    assert client.read == {ALICE.lower()} and not meter._reads and meter._reader is None
    ledger.close()
