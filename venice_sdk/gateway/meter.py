"""How the gateway meters a request: admit it (rate limits), hold its worst case, and at its end
settle (or release) the hold, count its tokens and keep its usage record.

`Meter` does it with the SDK's blocking stores, one hop to a worker thread per step; it works
with every backend (SQLite, Redis, any key store). `RedisMeter` does the common case on the
event loop itself over one `AutoPipeline` (the requests in flight share its writes and reads):
a key without budgets of its own whose wallet's entitlement is cached, on a Redis ledger,
limiter and usage store reached with the same settings. Anything else (a key with a daily or
monthly budget, an entitlement to read from the chain, VCU mode, a hold that outlived its TTL)
takes `Meter`'s path; both write the same keys through the same scripts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from venice_sdk.auth import (
    KEY_PREFIX,
    ApiKeyStore,
    AuthError,
    KeyRecord,
    KeyStore,
    KeyStoreUnavailable,
    RedisKeyStore,
)
from venice_sdk.entitlements import (
    MAX_BATCH,
    EntitlementError,
    EntitlementUnavailable,
    canonical,
)
from venice_sdk.errors import Reason
from venice_sdk.gate import Gatekeeper, has_budget
from venice_sdk.gateway.stream import Usage
from venice_sdk.ledger import HoldError, LedgerUnavailable, epoch_day, normalize_account
from venice_sdk.ledger.aio import AsyncHolds
from venice_sdk.ledger.pipeline import AutoPipeline, ReplyError
from venice_sdk.ledger.redis import RedisLedger
from venice_sdk.metering import Metering, Plan, Reservation
from venice_sdk.ratelimit import _LUA as _RATE_LUA
from venice_sdk.ratelimit import (
    Limits,
    RateLimiter,
    RateLimitPolicy,
    RateState,
    RedisRateLimiter,
)
from venice_sdk.usage import _LUA as _USAGE_LUA
from venice_sdk.usage import RedisUsageStore, UsageRecord, UsageStore

__all__ = ["Admitted", "Meter", "RedisMeter", "Served", "make_meter"]

log = logging.getLogger("venice_sdk.gateway")

#: A request counted against its key's rate limits: (key id, the limits' state after it).
Admitted = tuple[str, RateState]


@dataclass(frozen=True)
class Served:
    """How a served request ended: ``outcome`` (``complete``, ``disconnected``,
    ``upstream_failed``), ``cost`` at its usage (None: no usable usage, so its hold), the
    ``usage`` (its tokens count against the key's rate), its admission, images made."""

    model: str
    outcome: str
    cost: int | None
    usage: Usage | None
    admitted: Admitted | None
    images: int = 0


class Meter:
    """The gateway's metering over ``gate`` (its key store, entitlements and ledger), with an
    optional ``limiter`` and ``policy`` (requests and tokens per minute per key) and
    ``usage_store`` (a record per request)."""

    def __init__(
        self,
        gate: Gatekeeper,
        limiter: RateLimiter | None = None,
        policy: RateLimitPolicy | None = None,
        usage_store: UsageStore | None = None,
    ) -> None:
        self.gate = gate
        self.metering = Metering(gate)
        self.limiter, self.policy, self.usage_store = limiter, policy, usage_store

    @property
    def limits(self) -> bool:
        return self.limiter is not None and self.policy is not None and self.gate.keys is not None

    # --- the steps, each awaited by the gateway -------------------------------------------

    async def resolve(self, key: str) -> KeyRecord:
        """The record of a presented key (raises `AuthError`, `KeyStoreUnavailable` included):
        read on the loop from SQLite (in WAL mode a read never waits), else in a thread."""
        keys = self.gate.keys
        if keys is None:
            raise AuthError(Reason.UNKNOWN_KEY, "this gateway has no key store")
        if isinstance(keys, ApiKeyStore):
            return keys.resolve(key)
        return await anyio.to_thread.run_sync(keys.resolve, key)

    async def admit(self, key: str, record: KeyRecord | None = None) -> Admitted | None:
        """Count the request against its key's rate limits (None: no such key; the reserve
        refuses it); ``record``: the key as the gateway has just resolved it. Raises
        `LedgerUnavailable` if the limits cannot be reached."""
        return await anyio.to_thread.run_sync(self._admit, key, record)

    async def reserve(
        self, key: str, request_id: str, max_cost: int, model: str, record: KeyRecord | None = None
    ) -> Reservation:
        """Hold ``max_cost`` for the request (raises `LedgerUnavailable`); ``record``: the key
        as the gateway has just resolved it."""
        return await anyio.to_thread.run_sync(
            functools.partial(self.metering.reserve, record=record),
            key, request_id, max_cost, model,
        )  # fmt: skip

    async def finish(self, reservation: Reservation, served: Served) -> int:
        """Settle a served request at its cost, count its tokens and record it; the balance
        left."""

        def run() -> int:
            remaining, charged = self._settle(reservation, _cost(reservation, served))
            if served.usage is not None:
                self._count_tokens(served.admitted, _tokens(served.usage))
            self._note(reservation, served, charged)
            return remaining

        return await anyio.to_thread.run_sync(run)

    async def release(self, reservation: Reservation, model: str) -> None:
        """Free the hold of a request that was not served, and record it."""

        def run() -> None:
            try:
                self.metering.release(reservation)
            except (LedgerUnavailable, HoldError) as exc:
                log.error("releasing %s failed: %s", reservation.request_id, exc)
            self._note(reservation, Served(model, "released", None, None, None))

        await anyio.to_thread.run_sync(run)

    async def renew(self, reservations: list[Reservation]) -> None:
        """Renew the holds of requests still being served (a lease: a hold expires only
        ``hold_ttl`` after its last renewal). A failure is logged: the settle of a request
        whose hold expired still debits it if the day's credit covers it (`_settle`)."""

        def run() -> None:
            for reservation in reservations:
                try:
                    self.metering.renew(reservation)
                except (LedgerUnavailable, HoldError) as exc:
                    log.warning("renewing %s failed: %s", reservation.request_id, exc)

        await anyio.to_thread.run_sync(run)

    async def close(self) -> None:
        """Close what the meter opened in its event loop (nothing here)."""

    # --- blocking pieces ------------------------------------------------------------------

    def _limits_for(self, record_key_id: str, address: str) -> Limits:
        """The limits of a key: its tier comes from the wallet's entitlement (the default if
        it cannot be read)."""
        assert self.policy is not None
        try:
            entitlement = self.gate.client.get(address)
            pro, diem = bool(entitlement.is_pro), int(entitlement.diem_staked)
        except EntitlementError:
            pro, diem = False, 0
        return self.policy.limits_for(record_key_id, pro=pro, diem_staked=diem)

    def _admit(self, key: str, record: KeyRecord | None = None) -> Admitted | None:
        assert self.limiter is not None and self.gate.keys is not None
        if record is None:
            try:
                record = self.gate.keys.resolve(key)
            except AuthError:
                return None
        limits = self._limits_for(record.key_id, record.address)
        return record.key_id, self.limiter.hit(record.key_id, limits)

    def _count_tokens(self, admitted: Admitted | None, tokens: int) -> None:
        if self.limiter is None or admitted is None or not tokens:
            return
        try:
            self.limiter.add_tokens(admitted[0], tokens)
        except LedgerUnavailable as exc:
            log.error("counting tokens failed: %s", exc)

    def _settle(self, reservation: Reservation, cost: int) -> tuple[int, int]:
        """Settle at ``cost``: (the balance left after it, what was debited); the hold's balance
        and 0 if the ledger failed."""
        gate = self.gate
        try:
            try:
                done = self.metering.settle(reservation, cost)
            except HoldError as exc:
                if exc.code != Reason.HOLD_EXPIRED or reservation.address is None:
                    raise
                # Served for longer than the ledger's hold_ttl: the hold went back to the
                # wallet, so debit what was served (today) if the day's credit still covers it.
                debit = gate.ledger.debit(
                    reservation.address, min(cost, reservation.amount), reservation.daily_limit
                )
                if not debit.allowed:
                    log.error(
                        "%s outlived its hold; its cost no longer fits", reservation.request_id
                    )
                return debit.remaining, debit.cost if debit.allowed else 0
        except (LedgerUnavailable, HoldError) as exc:
            # The request was served: the hold stays until its TTL (then it is released).
            log.error("settling %s failed: %s", reservation.request_id, exc)
            return reservation.remaining, 0
        if reservation.key_hold is None and reservation.month_hold is None:
            return done.remaining, done.cost
        # A key with its own budget: what is left is the least of the wallet's credit and the
        # key's budgets (as the reservation said), each with this request's unused hold back.
        return min(
            done.remaining, reservation.remaining + reservation.amount - done.cost
        ), done.cost

    def _record(self, reservation: Reservation, served: Served, charged: int) -> UsageRecord | None:
        """The request's usage record (None: the gateway keeps none, or nobody paid)."""
        if self.usage_store is None or reservation.address is None:
            return None
        now = float(self.gate.ledger.clock())
        usage = served.usage
        return UsageRecord(
            request_id=reservation.request_id,
            key_id=reservation.key_id,
            wallet=normalize_account(reservation.address),
            model=served.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            images=served.images,
            cost=charged,
            hold=reservation.amount,
            time=now,
            day=reservation.hold.day if reservation.hold else epoch_day(now),
            outcome=served.outcome,
        )

    def _note(self, reservation: Reservation, served: Served, charged: int = 0) -> None:
        record = self._record(reservation, served, charged)
        if record is None or self.usage_store is None:
            return
        try:
            self.usage_store.record(record)
        except LedgerUnavailable as exc:
            log.error("recording the usage of %s failed: %s", reservation.request_id, exc)


class RedisMeter(Meter):
    """`Meter` with the common case on the event loop, over one `AutoPipeline` (made by
    `make_meter`, which decides whether the stores allow it)."""

    limiter: RedisRateLimiter | None
    usage_store: RedisUsageStore | None

    def __init__(
        self,
        gate: Gatekeeper,
        pipe: AutoPipeline,
        limiter: RedisRateLimiter | None = None,
        policy: RateLimitPolicy | None = None,
        usage_store: RedisUsageStore | None = None,
    ) -> None:
        super().__init__(gate, limiter, policy, usage_store)
        assert isinstance(gate.ledger, RedisLedger)
        self.pipe = pipe
        self.holds = AsyncHolds(gate.ledger, pipe)
        # Keys in Redis (the fleet's, as the sidecar and `venice-sdk keys` issue them) are read
        # on this pipeline too: one HGETALL in the loop iteration's batch, no thread.
        self.redis_keys = gate.keys if isinstance(gate.keys, RedisKeyStore) else None
        # The one read of each wallet's entitlement under way or queued (ahead of expiry, or
        # for requests that found none cached): every request of that wallet meanwhile awaits
        # this one. The wallets queued for the next batch, and the task reading the batches.
        self._reads: dict[str, asyncio.Future[None]] = {}
        self._queued: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        pipe.register(_RATE_LUA)
        pipe.register(_USAGE_LUA)

    async def resolve(self, key: str) -> KeyRecord:
        keys = self.redis_keys
        if keys is None:
            return await super().resolve(key)
        command = keys.lookup_command(key)
        if command is None:
            return keys.usable(None)  # (not a key: unknown)
        for attempt in (1, 2):  # (the second on a fresh connection, as the store's own)
            try:
                reply = await self.pipe.call(*command)
                break
            except LedgerUnavailable as exc:
                if attempt == 2:
                    raise KeyStoreUnavailable(
                        f"the key store (redis) does not answer while resolving a key: {exc}"
                    ) from exc
        if isinstance(reply, ReplyError):
            raise KeyStoreUnavailable(f"the key store (redis) refused the lookup: {reply}")
        return keys.from_reply(reply)

    async def admit(self, key: str, record: KeyRecord | None = None) -> Admitted | None:
        assert self.gate.keys is not None and self.limiter is not None
        if record is None:
            try:
                record = await self.resolve(key)
            except AuthError:
                return None
        if not await self._cached(record.address):
            return await super().admit(key, record)  # the read failed: the blocking path says why
        limits = self._limits_for(record.key_id, record.address)
        call, answer = self.limiter.hit_call(record.key_id, limits)
        reply = (await self.pipe.batch(call))[0]
        if isinstance(reply, ReplyError):
            raise LedgerUnavailable(f"redis refused the rate limit script: {reply}")
        return record.key_id, answer(reply)

    async def reserve(
        self, key: str, request_id: str, max_cost: int, model: str, record: KeyRecord | None = None
    ) -> Reservation:
        if record is None and self.redis_keys is not None and key.startswith(KEY_PREFIX):
            try:  # (looked up here, not by the plan: on the loop, not a blocking call)
                record = await self.resolve(key)
            except AuthError:
                return await super().reserve(key, request_id, max_cost, model)  # it refuses
        plan = self.metering.plan(key, request_id, model, cached_only=True, record=record)
        address = record.address if record is not None else self._address(key)
        if plan is None and self.gate.vcu is None and await self._cached(address):
            plan = self.metering.plan(key, request_id, model, cached_only=True, record=record)
        if plan is None or (isinstance(plan, Plan) and plan.record and has_budget(plan.record)):
            return await super().reserve(key, request_id, max_cost, model, record)
        if isinstance(plan, Reservation):
            return plan
        self._refresh_ahead(plan.address)
        hold = await self.holds.reserve(plan.address, max_cost, plan.wallet_limit, request_id)
        if hold.allowed and self.gate.activity_due(plan.address):
            await anyio.to_thread.run_sync(self.gate._mark_active, plan.address)
        return plan.held(request_id, hold)

    def _address(self, who: str) -> str | None:
        """The wallet paying for ``who`` (a key or a wallet), if that takes no network call."""
        if not who.startswith(KEY_PREFIX):
            return who
        if self.gate.keys is None:
            return None
        try:
            return self.gate.keys.resolve(who).address
        except AuthError:
            return None

    async def _cached(self, address: str | None) -> bool:
        """Whether ``address``'s entitlement is cached, reading it first if it is not: one read
        per wallet, which every request of the wallet arriving meanwhile awaits (a wallet's
        first burst after a quiet spell made one chain read per request, each in its own
        thread: at 1,000 requests a second, 16 concurrent reads per worker held requests for
        50-140 ms). False if the read failed (the blocking path then answers, stale entry or
        error), or if the client caches nothing (``ttl`` 0: the blocking path reads)."""
        client = self.gate.client
        if address is None or client.ttl <= 0:  # a cache of 0 s keeps nothing: not read twice
            return False
        if client.cached(address) is not None:
            return True
        try:
            await asyncio.shield(self._read(address))
        except EntitlementError:
            return False
        return client.cached(address) is not None

    def _refresh_ahead(self, address: str) -> None:
        """Once half of ``address``'s cached entitlement's TTL has gone, read it again in a
        worker thread (one read per wallet at a time) while requests go on with the cached
        one: a wallet in use never expires, so no request waits for the chain (with the
        default 2 s TTL, each expiry otherwise sent every request of that moment to the
        blocking path, and the p99 at 1,000 requests a second to 100-170 ms)."""
        if address in self._reads:
            return
        left = self.gate.client.expires_in(address)
        if left is None or left > self.gate.client.ttl / 2:
            return
        self._read(address)

    def _read(self, address: str) -> asyncio.Future[None]:
        """The read of ``address``'s entitlement under way or queued, queued if neither is.
        The wallets queued are read together, up to `MAX_BATCH` a call, one call at a time
        per worker (`_read_batches`): each wallet's read was a call to the node of its own, so
        N wallets in use made N calls every half TTL, each holding the worker's event loop
        (the GIL) for most of a millisecond of Python, where one call reads them all."""
        future = self._reads.get(address)
        if future is not None:
            return future
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        future.add_done_callback(_retrieved)  # (a read ahead of expiry has no waiter)
        try:
            canonical(address)  # (a malformed one is refused alone, not with its batch)
        except EntitlementError as exc:
            future.set_exception(exc)
            return future
        self._reads[address] = future
        self._queued.append(address)
        if self._reader is None:  # (it starts next iteration: this one's wallets join it)
            self._reader = loop.create_task(self._read_batches())
            self._reader.add_done_callback(self._reader_done)
        return future

    def _reader_done(self, reader: asyncio.Task[None]) -> None:
        """A reader cancelled before it ran (queued in its event loop's last step) never ran
        its ``finally``: its waiters are told here, and the next read starts a reader."""
        if self._reader is reader:
            self._stop_reads()

    def _stop_reads(self) -> None:
        self._reader = None
        stopped = EntitlementUnavailable(Reason.RPC_UNAVAILABLE, "the worker is stopping")
        for future in self._reads.values():
            if not future.done():
                future.set_exception(stopped)
        self._reads.clear()
        self._queued.clear()

    async def _read_batches(self) -> None:
        """Read the wallets queued, a batch at a time, until none is; each waiter is told."""
        try:
            while self._queued:
                batch = self._queued[:MAX_BATCH]
                del self._queued[:MAX_BATCH]
                error: BaseException | None = None
                try:
                    await anyio.to_thread.run_sync(self.gate.client.refresh, batch)
                except EntitlementError as exc:  # the entries expire as usual; a miss reads
                    log.warning(
                        "reading the entitlements of %d wallets failed: %s", len(batch), exc
                    )
                    error = exc
                except Exception as exc:
                    log.error("reading the entitlements of %d wallets failed", len(batch),
                              exc_info=exc)  # fmt: skip
                    error = exc
                for address in batch:
                    future = self._reads.pop(address)
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:  # (cancelled: the worker is stopping) no waiter is left waiting
            self._stop_reads()

    async def finish(self, reservation: Reservation, served: Served) -> int:
        if _blocking(reservation) or reservation.hold is None:
            return await super().finish(reservation, served)
        hold, cost = reservation.hold, _cost(reservation, served)
        # The usage record goes out in the settle's batch, at the charge a settle of this hold
        # makes (never more than it holds) and guarded on it: if the settle charged anything
        # else (or failed), Redis keeps no record and it is sent below at what was charged.
        store, record = self.usage_store, self._record(reservation, served, min(cost, hold.amount))
        follow = None
        if store is not None and record is not None:
            follow = functools.partial(_guarded, store, record)
        recorded: Any = None  # the guarded record's reply: its sequence, 0, -1, or none sent
        try:
            done, recorded = await self.holds.settle_with(hold, cost, follow)
            if isinstance(done, HoldError):
                raise done
        except HoldError as exc:
            if exc.code != Reason.HOLD_EXPIRED:
                log.error("settling %s failed: %s", reservation.request_id, exc)
                remaining, charged = reservation.remaining, 0
            else:  # outlived its hold: the blocking path debits what it can
                return await super().finish(reservation, served)
        except LedgerUnavailable as exc:
            log.error("settling %s failed: %s", reservation.request_id, exc)
            remaining, charged = reservation.remaining, 0
        else:
            remaining, charged = done.remaining, done.cost
        calls: list[tuple[Any, ...]] = []
        tokens = _tokens(served.usage) if served.usage is not None else 0
        if self.limiter is not None and served.admitted is not None and tokens:
            calls.append(self.limiter.tokens_call(served.admitted[0], tokens))
        if follow is not None and not (isinstance(recorded, int) and recorded >= 0):
            again = self._record(reservation, served, charged)  # not kept above: at its charge
            if again is not None and store is not None:
                calls.append(store.record_call(again))
        await self._send_quietly(reservation.request_id, calls)
        return remaining

    async def release(self, reservation: Reservation, model: str) -> None:
        if _blocking(reservation) or reservation.hold is None:
            await super().release(reservation, model)
            return
        try:
            await self.holds.release(reservation.hold)
        except (LedgerUnavailable, HoldError) as exc:
            log.error("releasing %s failed: %s", reservation.request_id, exc)
        record = self._record(reservation, Served(model, "released", None, None, None), 0)
        if record is not None and self.usage_store is not None:
            await self._send_quietly(reservation.request_id, [self.usage_store.record_call(record)])

    async def _send_quietly(self, request_id: str, calls: list[tuple[Any, ...]]) -> None:
        """Send a request's token count and usage record; a failure is logged (the request
        was served and settled already)."""
        if not calls:
            return
        try:
            replies = await self.pipe.batch(*calls)
        except LedgerUnavailable as exc:
            log.error("recording the usage of %s failed: %s", request_id, exc)
            return
        for reply in replies:
            if isinstance(reply, ReplyError):
                log.error("recording the usage of %s failed: %s", request_id, reply)

    async def close(self) -> None:
        await self.pipe.close()


def _guarded(store: RedisUsageStore, record: UsageRecord, hold_key: str) -> tuple[Any, ...]:
    """``record``, kept only if the hold whose record is ``hold_key`` settled at its cost."""
    return store.record_call(record, settled=hold_key)


def _retrieved(future: asyncio.Future[None]) -> None:
    """Mark a read's failure seen (logged when it failed; its waiters, if any, act on it):
    asyncio would otherwise log it again as never retrieved."""
    if not future.cancelled():
        future.exception()


def _blocking(reservation: Reservation) -> bool:
    """Whether a request held on its key's budgets too (those take the blocking path)."""
    return reservation.key_hold is not None or reservation.month_hold is not None


def _cost(reservation: Reservation, served: Served) -> int:
    """What a served request is settled at: its usage's price, else its hold."""
    return reservation.amount if served.cost is None else served.cost


def _tokens(usage: Usage) -> int:
    return usage.prompt_tokens + usage.completion_tokens


def _shares(
    pipe: AutoPipeline,
    store: RateLimiter | UsageStore | KeyStore | None,
    kind: type[RedisRateLimiter] | type[RedisUsageStore] | type[RedisKeyStore],
) -> bool:
    """Whether ``store`` (None: no such store) is a ``kind`` on ``pipe``'s Redis and database."""
    if store is None:
        return True
    if not isinstance(store, kind):
        return False
    other = AutoPipeline.like(store.client)
    return other is not None and other.place == pipe.place


def make_meter(
    gate: Gatekeeper,
    limiter: RateLimiter | None = None,
    policy: RateLimitPolicy | None = None,
    usage_store: UsageStore | None = None,
) -> Meter:
    """A `RedisMeter` when the ledger is a `RedisLedger` sending directly (one Redis, not a
    cluster), the keys are in SQLite or on that Redis, and the limiter and usage store (if any)
    are on the same Redis with the same settings; else a `Meter`."""
    ledger = gate.ledger
    if not isinstance(ledger, RedisLedger) or not ledger.direct:
        return Meter(gate, limiter, policy, usage_store)
    pipe = AutoPipeline.like(ledger.client, timeout=ledger.socket_timeout,
                             retry_for=ledger.retry_for)  # fmt: skip
    if (
        pipe is None
        or gate.keys is None
        or not (isinstance(gate.keys, ApiKeyStore) or _shares(pipe, gate.keys, RedisKeyStore))
        or not _shares(pipe, limiter, RedisRateLimiter)
        or not _shares(pipe, usage_store, RedisUsageStore)
    ):
        return Meter(gate, limiter, policy, usage_store)
    return RedisMeter(
        gate,
        pipe,
        limiter if isinstance(limiter, RedisRateLimiter) else None,
        policy,
        usage_store if isinstance(usage_store, RedisUsageStore) else None,
    )
