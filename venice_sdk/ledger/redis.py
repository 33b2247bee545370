"""`RedisLedger`: a credit ledger in one Redis shared by a fleet; each debit is one Lua script
(`debit.lua`, shipped with the package) run in one round trip, carrying a random token so that
a retry after a lost reply never debits twice. Holds are one script each too (`holds.lua`); both
start with `sweep.lua`, which releases the account's expired holds.

Over 500 lines on purpose: one class, whose connection handling (direct sockets per thread and
process, retries within ``retry_for``, lost replies) serves the debit and the hold scripts alike.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from venice_sdk.clock import Clock
from venice_sdk.ledger import base
from venice_sdk.ledger.base import (
    ACTIVITY_WINDOW,
    HOLD_TTL,
    MONTH_BASE,
    SECONDS_PER_DAY,
    CreditLedger,
    Debit,
    Hold,
    HoldAsk,
    LedgerUnavailable,
    Settlement,
)
from venice_sdk.ledger.connections import redis_client, unavailable_errors

#: A month period's spend and holds live this long (the month and the next).
MONTH_KEEP_DAYS = 62

if TYPE_CHECKING:  # redis is an optional extra: imported only by RedisLedger
    import redis

__all__ = ["RedisLedger"]


def _script(name: str) -> str:
    """A script of the package: the shared `sweep.lua` head, then ``name``."""
    files = resources.files("venice_sdk.ledger")
    head = files.joinpath("sweep.lua").read_text(encoding="utf-8")
    return head + files.joinpath(name).read_text(encoding="utf-8")


# The check-and-debit script (see its header for its keys, arguments and reply).
_DEBIT_LUA = _script("debit.lua")
_DEBIT_SHA = hashlib.sha1(_DEBIT_LUA.encode()).hexdigest()
_DEBIT_KEYS = 4
# The hold script: reserve, settle, release.
_HOLDS_LUA = _script("holds.lua")
_HOLDS_SHA = hashlib.sha1(_HOLDS_LUA.encode()).hexdigest()

# Settles a debit reported unavailable (KEYS: the day's spend, the debit's token; ARGV: cost,
# token TTL): if it ran after all (its token exists), take its cost back; either way leave the
# token voided, so the script can never run for it later (a token that exists debits nothing).
_SETTLE_LUA = """
local done = redis.call('GET', KEYS[2])
if done == 'void' then return 0 end
redis.call('SET', KEYS[2], 'void', 'EX', ARGV[2])
if done then redis.call('DECRBY', KEYS[1], ARGV[1]) return 1 end
return 0
"""

_pack_command: Callable[[tuple[Any, ...]], bytes] | None
try:  # hiredis comes with the redis extra
    import hiredis

    _pack_command = hiredis.pack_command
except ImportError:
    _pack_command = None


class RedisLedger(CreditLedger):
    """A ledger in Redis, shared by a fleet of inference servers.

    Each debit is one ``EVALSHA`` of a Lua script (falling back to ``EVAL`` when the server has
    not cached it, e.g. after a restart), so the check and the increment are atomic. Each debit
    carries a random token that the script remembers for ``token_ttl`` seconds when it debits:
    the call is retried (same token) until ``retry_for`` seconds have passed, so a debit whose
    reply was lost in a disconnect is reported once and applied once. If Redis stays
    unreachable the call raises `LedgerUnavailable`. A debit reported unavailable that may have
    run (its reply lost with the server) is remembered and settled on the next call that reaches
    Redis, within ``token_ttl``: if it ran, its cost is taken back, so no caller is charged for a
    request it was told failed. Connect and read timeouts are ``socket_timeout`` (0.5 s).

    Debits are the hot path. With ``direct=True`` (the default) they skip redis-py's command
    layer (pool checkout and release, argument handling, response callbacks: more CPU than the
    round trip itself): each thread of each process sends them, packed in one call, over a
    connection of its own, made with the client's connection settings (host, port, database,
    credentials, TLS, timeouts) outside its pool. A connection is never shared: one per thread
    (a ledger may be shared by threads), and a process that inherits a ledger through ``fork``
    opens its own on first use and leaves its parent's socket alone. Any failure between
    sending a command and reading its reply drops the connection, so a reply can never be read
    as another debit's. ``direct=False`` sends debits through the client's own methods instead
    (a client without one connection pool, such as ``RedisCluster``, needs it). Reads and
    activity always go through the client.

    Keys: ``{prefix}:{<account>}:<day>`` (a string, expiring ``retention_days`` after the day
    starts being used) and ``{prefix}:{<account>}:t:<token>``; the braces keep one account's keys
    in one Redis Cluster slot. Activity is one sorted set (``ZADD`` / ``ZCOUNT``, O(log n)),
    trimmed of entries older than ``activity_retention`` on each write. Durability is Redis's:
    run it with ``appendonly yes`` and ``appendfsync always`` (or ``everysec`` to trade up to a
    second of debits for speed). The day comes from this ledger's clock, so a fleet's clocks
    must agree (NTP) around midnight UTC.
    """

    def __init__(
        self,
        client_or_url: redis.Redis | str,
        clock: Clock | None = None,
        *,
        prefix: str = "venice:credit",
        retention_days: int = 3,
        activity_retention: int = ACTIVITY_WINDOW,
        token_ttl: int = 120,
        retry_for: float = 5.0,
        socket_timeout: float = 0.5,
        direct: bool = True,
        hold_ttl: float = HOLD_TTL,
    ) -> None:
        super().__init__(clock, hold_ttl=hold_ttl, retention_days=retention_days)
        # No retries inside redis-py: _retrying() owns the deadline.
        self._redis, self.client = redis_client(client_or_url, socket_timeout, retry=None)
        self._pool: Any = getattr(self.client, "connection_pool", None)
        if direct and self._pool is None:
            raise ValueError(
                "direct=True needs a client with one connection pool (redis.Redis); "
                "pass direct=False to send debits through this client"
            )
        self.direct = direct
        self.socket_timeout = socket_timeout
        self.prefix = prefix
        self.activity_retention = activity_retention
        self.token_ttl = token_ttl
        self.retry_for = retry_for
        self._activity_key = f"{prefix}:activity"
        self._token_pid = -1
        self._token_base = ""
        self._token_seq = itertools.count()
        # Redis away, loading, or refusing writes for now: a read-only replica (a failover
        # under way, or a URL naming a replica) answers READONLY to every debit and hold.
        self._errors = unavailable_errors(self._redis)
        # Debit connections: this thread's (pid, connection), and every one opened (with the
        # pid that opened it) so close() can reach them; a thread's connection closes when the
        # thread ends.
        self._local = threading.local()
        self._direct_conns: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._direct_lock = threading.Lock()
        # Debits reported unavailable that may have run: (day key, token key, cost).
        self._unsettled: list[tuple[str, str, int]] = []
        self._unsettled_lock = threading.Lock()
        self.refunded = 0  # how many of them had run and were taken back

    def _key(self, account: str, day: int) -> str:
        return f"{self.prefix}:{{{account}}}:{day}"

    def _retrying(self, what: str, call: Any) -> Any:
        """Run ``call`` until it succeeds or ``retry_for`` seconds pass.

        Only safe for idempotent calls: reads, and debits (which carry their token).
        """
        deadline = time.monotonic() + self.retry_for
        delay = 0.01
        while True:
            try:
                return call()
            except self._errors as exc:
                if time.monotonic() + delay > deadline:
                    raise LedgerUnavailable(
                        f"redis unreachable while {what} for {self.retry_for:g}s: {exc}"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _token(self) -> str:
        """A token no other debit has: 64 random bits per process, then a counter."""
        if self._token_pid != os.getpid():  # a new process (fork): a new random base
            self._token_base = secrets.token_hex(8)
            self._token_pid = os.getpid()
        return f"{self._token_base}{next(self._token_seq):x}"

    def _base(self, account: str) -> str:
        """The prefix of every key of ``account`` (the braces keep them in one cluster slot)."""
        return f"{self.prefix}:{{{account}}}:"

    def _script_args(
        self, day: int, account: str, cost: int, limit: int, now: float
    ) -> tuple[Any, ...]:
        """One debit's keys and arguments for the script, with a fresh token."""
        base = self._base(account)
        return (
            f"{base}{day}",
            f"{base}t:{self._token()}",
            f"{base}h:{day}",
            f"{base}x",
            cost,
            limit,
            self.retention_days * SECONDS_PER_DAY,
            self.token_ttl,
            repr(now),
            base,
        )

    def _debit_one(self, day: int, account: str, cost: int, limit: int) -> Debit:
        if not self.direct:
            return self._debit_many(day, [(account, cost, limit)])[0]
        if self._unsettled:
            self.reconcile()
        args = self._script_args(day, account, cost, limit, float(self.clock()))
        try:
            reply = self._retrying("debiting", lambda: self._call_one(args))
        except LedgerUnavailable:
            self._unsettle([args])
            raise
        return base._outcome(
            account, day, cost, limit, bool(reply[0]), int(reply[1]), int(reply[2])
        )

    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        if self._unsettled:
            self.reconcile()
        now = float(self.clock())
        calls = [self._script_args(day, *request, now) for request in requests]
        run = self._run_direct if self.direct else self._run_client
        try:
            results = self._retrying("debiting", lambda: run(calls))
        except LedgerUnavailable:
            self._unsettle(calls)
            raise
        return [
            base._outcome(account, day, cost, limit, bool(res[0]), int(res[1]), int(res[2]))
            for (account, cost, limit), res in zip(requests, results, strict=True)
        ]

    # --- debits reported unavailable -----------------------------------------------------------

    def _unsettle(self, calls: list[tuple[Any, ...]]) -> None:
        with self._unsettled_lock:
            self._unsettled.extend((c[0], c[1], int(c[4])) for c in calls if int(c[4]) > 0)

    @property
    def unsettled(self) -> int:
        """Debits reported unavailable and not settled yet."""
        return len(self._unsettled)

    def reconcile(self) -> int:
        """Settle the debits reported unavailable (one try each; those Redis does not answer
        for stay for the next call): any that ran is taken back. Returns how many were."""
        with self._unsettled_lock:
            pending, self._unsettled = self._unsettled, []
        refunded = 0
        for i, (day_key, token_key, cost) in enumerate(pending):
            try:
                refunded += int(
                    self.client.eval(_SETTLE_LUA, 2, day_key, token_key, cost, self.token_ttl)
                )
            except self._errors:
                with self._unsettled_lock:
                    self._unsettled.extend(pending[i:])
                break
        self.refunded += refunded
        return refunded

    def ping(self) -> None:
        """Readiness: a write within the socket timeout (a key of its own, expiring in a
        minute), else `LedgerUnavailable`: a read-only replica answers PING but refuses every
        debit, and so does a server out of memory or an account without write access."""
        try:
            self.client.set(f"{self.prefix}:ready", "1", ex=60)
        except self._errors as exc:
            raise LedgerUnavailable(
                f"redis does not answer or refuses writes: {type(exc).__name__}: {exc}"[:300]
            ) from exc
        except self._redis.ResponseError as exc:
            raise LedgerUnavailable(f"redis refuses the ledger's writes: {exc}"[:300]) from exc

    # --- debits over this thread's own connection (direct=True) ------------------------------

    def _connection(self) -> Any:
        """This thread's debit connection in this process, opened on first use."""
        slot: tuple[int, Any] | None = getattr(self._local, "slot", None)
        pid = os.getpid()
        if slot is not None and slot[0] == pid:
            return slot[1]
        # A new thread, or a forked child holding its parent's connection: never reuse that
        # socket (both processes would read each other's replies); dropping the reference only
        # closes the child's copy of the descriptor.
        conn = self._pool.connection_class(**self._pool.connection_kwargs)
        self._local.slot = (pid, conn)
        with self._direct_lock:
            self._direct_conns[conn] = pid
        return conn

    def _call_one(self, args: tuple[Any, ...]) -> Any:
        """One debit's script over this thread's connection (the single-request hot path).

        Any failure drops the connection (redis-py reconnects on the next send), so a reply
        left unread can never answer a later command."""
        conn = self._connection()
        try:
            conn.send_packed_command(
                (_pack(conn, ("EVALSHA", _DEBIT_SHA, _DEBIT_KEYS, *args)),), False
            )
            try:
                return conn.read_response()
            except self._redis.exceptions.NoScriptError:
                pass  # the reply was read; the script did not run (a restarted server)
            conn.send_packed_command(
                (_pack(conn, ("EVAL", _DEBIT_LUA, _DEBIT_KEYS, *args)),), False
            )
            return conn.read_response()
        except BaseException:
            conn.disconnect()
            raise

    def _send(self, conn: Any, commands: list[bytes]) -> list[Any]:
        """Send packed commands in one write and read their replies in order. A Redis error
        reply (NOSCRIPT, ...) is returned in its place: it was read, so the connection is still
        in step. Any other failure drops the connection (redis-py reconnects on the next send),
        so a reply left unread can never answer a later command."""
        try:
            conn.send_packed_command([b"".join(commands)], check_health=False)
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except self._redis.ResponseError as exc:
                    replies.append(exc)
            return replies
        except BaseException:
            conn.disconnect()
            raise

    def _run_direct(
        self,
        calls: list[tuple[Any, ...]],
        script: tuple[str, str, int] = (_DEBIT_SHA, _DEBIT_LUA, _DEBIT_KEYS),
    ) -> list[Any]:
        """Run ``script`` (its SHA, its source, how many keys it takes: the debit script by
        default) once per call, in one write over this thread's connection."""
        sha, lua, numkeys = script
        conn = self._connection()
        replies = self._send(conn, [_pack(conn, ("EVALSHA", sha, numkeys, *c)) for c in calls])
        missing = [
            i for i, r in enumerate(replies) if isinstance(r, self._redis.exceptions.NoScriptError)
        ]
        if missing:
            # The server lost its script cache (a restart): those scripts did not run, so EVAL
            # (which caches the script again) runs each of them once.
            again = self._send(
                conn, [_pack(conn, ("EVAL", lua, numkeys, *calls[i])) for i in missing]
            )
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    # --- debits through the client (direct=False) -------------------------------------------

    def _run_client(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        if len(calls) == 1:
            return [self._evalsha(calls[0])]
        pipe = self.client.pipeline(transaction=False)
        for args in calls:
            pipe.evalsha(_DEBIT_SHA, _DEBIT_KEYS, *args)
        results: list[Any] = pipe.execute(raise_on_error=False)
        for i, result in enumerate(results):
            # NOSCRIPT means that script did not run: run it again, loading it.
            if isinstance(result, self._redis.exceptions.NoScriptError):
                results[i] = self._evalsha(calls[i])
            elif isinstance(result, Exception):
                raise result
        return results

    def _evalsha(self, args: tuple[Any, ...]) -> Any:
        try:
            return self.client.evalsha(_DEBIT_SHA, _DEBIT_KEYS, *args)
        except self._redis.exceptions.NoScriptError:
            return self.client.eval(_DEBIT_LUA, _DEBIT_KEYS, *args)

    # --- holds --------------------------------------------------------------------------------

    def _index_key(self, request_id: str) -> str:
        """Which account a request id holds credit for (settle and release by id alone)."""
        return f"{self.prefix}:rid:{{{request_id}}}"

    def _keep(self, day: int) -> int:
        """How long a day's (or a month period's) keys live, in seconds."""
        return (MONTH_KEEP_DAYS if day >= MONTH_BASE else self.retention_days) * SECONDS_PER_DAY

    def _hold_args(
        self, now: float, account: str, op: str, request_id: str, *extra: Any, keep: int = 0
    ) -> tuple[Any, ...]:
        """The hold script's keys and arguments for one operation on ``account``'s holds."""
        base = self._base(account)
        return (
            f"{base}r:{request_id}",
            f"{base}x",
            op,
            repr(now),
            base,
            keep or self.retention_days * SECONDS_PER_DAY,
            request_id,
            *extra,
        )

    def _hold_script(
        self, now: float, account: str, op: str, request_id: str, *extra: Any, keep: int = 0
    ) -> list[Any]:
        """Run the hold script for one account (retried: every operation is idempotent); with
        ``direct``, over this thread's own connection as debits are (no pool checkout, whose
        health poll cost a metered request about as much as the script)."""
        return self._run_hold(op, self._hold_args(now, account, op, request_id, *extra, keep=keep))

    def _run_hold(self, op: str, keys_and_args: tuple[Any, ...]) -> list[Any]:
        """Run the hold script with these keys and arguments (decoded reply)."""

        def run() -> list[Any]:
            if self.direct:
                reply = self._run_direct([keys_and_args], (_HOLDS_SHA, _HOLDS_LUA, 2))[0]
            else:
                try:
                    reply = self.client.evalsha(_HOLDS_SHA, 2, *keys_and_args)
                except self._redis.exceptions.NoScriptError:
                    reply = self.client.eval(_HOLDS_LUA, 2, *keys_and_args)
            return _decoded(reply)

        result: list[Any] = self._retrying(f"{op} of a hold", run)
        return result

    def _owner(self, account: str | None, request_id: str) -> str | None:
        if account is not None:
            return account
        value = self._retrying(
            "finding a hold", lambda: self.client.get(self._index_key(request_id))
        )
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def _reserve_calls(self, now: float, ask: HoldAsk) -> list[tuple[Any, ...]]:
        """A reserve's commands, sent together: claim the request id for the account (the
        index `settle` and `release` by id read), read who has it, then the hold script."""
        request_id, account, day, amount, limit, expires_at = ask
        index, keep = self._index_key(request_id), self._keep(day)
        hold = self._hold_args(
            now, account, "reserve", request_id, day, amount, limit, repr(expires_at), keep=keep
        )
        # The index lives as long as the hold's record: `keep` past the hold's expiry.
        life = _life(keep, expires_at, now)
        return [("SET", index, account, "NX", "EX", life), ("GET", index),
                ("EVALSHA", _HOLDS_SHA, 2, *hold)]  # fmt: skip

    def _reserve(self, now: float, ask: HoldAsk) -> Hold:
        request_id, account = ask[:2]
        claim, owner_get, hold = self._reserve_calls(now, ask)

        def claimed() -> Any:
            if self.direct:
                conn = self._connection()
                replies = self._send(conn, [_pack(conn, claim), _pack(conn, owner_get)])
                for reply in replies:
                    if isinstance(reply, Exception):
                        raise reply
                return replies[1]
            pipe = self.client.pipeline(transaction=False)
            pipe.set(claim[1], claim[2], nx=True, ex=claim[5])
            pipe.get(claim[1])
            return pipe.execute()[1]

        owner = self._retrying("reserving", claimed)
        if _text(owner) != account:
            raise base._reused(request_id)
        return reserve_answer(ask, self._run_hold("reserve", hold[3:]))

    def _settle(self, now: float, account: str | None, request_id: str, cost: int) -> Settlement:
        owner = self._owner(account, request_id)
        if owner is None:
            raise base._settle_error(request_id, None)
        return settle_answer(
            request_id, owner, self._hold_script(now, owner, "settle", request_id, cost)
        )

    def _release(self, now: float, account: str | None, request_id: str) -> Hold:
        owner = self._owner(account, request_id)
        if owner is None:
            raise base._release_error(request_id, None)
        return release_answer(
            request_id, owner, self._hold_script(now, owner, "release", request_id)
        )

    def _renew(self, now: float, account: str | None, request_id: str, expires_at: float) -> Hold:
        owner = self._owner(account, request_id)
        if owner is None:
            raise base._renew_error(request_id, None)
        reply = self._hold_script(now, owner, "renew", request_id, repr(expires_at))
        if reply[0] != "ok":
            raise base._renew_error(request_id, None if reply[0] == "unknown" else reply[0])
        # The script kept the hold's record `keep` past its new expiry; the index (in another
        # cluster slot) follows here, so a settle by id alone still finds it.
        life = _life(self._keep(int(reply[2])), expires_at, now)
        index = self._index_key(request_id)
        self._retrying("renewing a hold", lambda: self.client.expire(index, life))
        return _hold_reply(request_id, owner, reply)

    def _held(self, account: str, day: int, now: float) -> int:
        # Expired holds stay in the day's total until a script sweeps them: sweep, then read.
        self._hold_script(now, account, "sweep", "-")
        value = self._retrying(
            "reading holds", lambda: self.client.get(f"{self._base(account)}h:{day}")
        )
        return int(value) if value is not None else 0

    # --- reads and activity -------------------------------------------------------------------

    def _spent(self, account: str, day: int) -> int:
        value = self._retrying("reading spend", lambda: self.client.get(self._key(account, day)))
        return int(value) if value is not None else 0

    def _record_activity(self, account: str, now: float) -> None:
        def run() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(self._activity_key, {account: now}, gt=True)
            pipe.zremrangebyscore(self._activity_key, "-inf", now - self.activity_retention)
            pipe.execute()

        self._retrying("recording activity", run)

    def _last_activity(self, account: str) -> float | None:
        score = self._retrying(
            "reading activity", lambda: self.client.zscore(self._activity_key, account)
        )
        return float(score) if score is not None else None

    def _count_active(self, since: float) -> int:
        count = self._retrying(
            "counting activity",
            lambda: self.client.zcount(self._activity_key, f"({since!r}", "+inf"),
        )
        return int(count)

    def _list_active(self, since: float) -> list[str]:
        members = self._retrying(
            "listing activity",
            lambda: self.client.zrangebyscore(self._activity_key, f"({since!r}", "+inf"),
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def close(self) -> None:
        """Close the client's connections and the debit connections this process opened.

        Connections inherited through a fork are left alone: they belong to the parent.
        """
        with self._direct_lock:
            conns, self._direct_conns = (
                list(self._direct_conns.items()),
                weakref.WeakKeyDictionary(),
            )
            self._local = threading.local()
        pid = os.getpid()
        for conn, owner in conns:
            if owner == pid:
                conn.disconnect()
        self.client.close()


def _life(keep: int, expires_at: float, now: float) -> int:
    """Seconds a hold's record and index live: ``keep`` (its day's retention) past the hold's
    expiry, so that a hold longer than the retention (a long ``hold_ttl``, a lease renewed for
    days) can still be settled, as the hold script computes it."""
    return keep + max(0, math.ceil(expires_at - now))


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _decoded(reply: list[Any]) -> list[Any]:
    return [_text(r) for r in reply]


def _hold_reply(request_id: str, account: str, reply: list[Any]) -> Hold:
    """A `Hold` from the hold script's reply ``{'ok', state, day, amount, limit, expires, spent,
    held, ...}``."""
    _, state, day, amount, limit, expires, spent, held = reply[:8]
    return base.stored_hold(request_id, account, (day, amount, limit, expires, state), spent, held)


def reserve_answer(ask: HoldAsk, reply: list[Any]) -> Hold:
    """The `Hold` of a reserve from the hold script's (decoded) reply."""
    if reply[0] == "refused":
        return base.answer_hold(ask, "refused", int(reply[1]), int(reply[2]))
    if reply[0] == "reused":
        raise base._reused(ask[0])
    return _hold_reply(ask[0], ask[1], reply)


def settle_answer(request_id: str, owner: str, reply: list[Any]) -> Settlement:
    """The `Settlement` of a settle from the hold script's reply (raises `HoldError`)."""
    if reply[0] != "ok":
        raise base._settle_error(request_id, None if reply[0] == "unknown" else reply[0])
    _, _, day, amount, limit, _, spent, held, charged, requested = reply
    return base._settlement(request_id, owner, day, amount, limit, charged, requested, spent, held)


def release_answer(request_id: str, owner: str, reply: list[Any]) -> Hold:
    """The `Hold` of a release from the hold script's reply (raises `HoldError`)."""
    if reply[0] != "ok":
        raise base._release_error(request_id, None if reply[0] == "unknown" else reply[0])
    return _hold_reply(request_id, owner, reply)


def _pack(conn: Any, args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol: hiredis's packer (installed with the redis extra) in
    one C call, else the connection's own."""
    if _pack_command is not None:
        return _pack_command(args)
    return b"".join(conn.pack_command(*args))
