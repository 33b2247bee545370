"""Daily credit ledgers: how much an account has spent today, and may it spend more.

Money is integer micro-USD throughout. A day is a UTC day (``epoch_day(ts) = int(ts) // 86400``),
so credit resets at 00:00 UTC and unused credit does not roll over. Every check-and-debit is
atomic: a debit that would take an account past its daily limit changes nothing, and no
interleaving of servers, threads or processes can overspend.

Two backends share one interface, `CreditLedger`:

* `SQLiteLedger`: one file, durable across restarts (WAL mode); processes on one machine share
  it and each debit is one ``BEGIN IMMEDIATE`` transaction.
* `RedisLedger`: one Redis shared by a fleet; each debit is one Lua script run in one round trip,
  carrying a random token so that a retry after a lost reply never debits twice.

Both also keep each account's last API call, so VCU mode can count the wallets active in the
last 7 days.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
import sqlite3
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # redis is an optional extra: imported only by RedisLedger
    import redis

__all__ = [
    "ACTIVITY_WINDOW",
    "INSUFFICIENT_CREDIT",
    "MAX_AMOUNT",
    "SECONDS_PER_DAY",
    "Clock",
    "CreditLedger",
    "Debit",
    "LedgerError",
    "LedgerUnavailable",
    "RedisLedger",
    "SQLiteLedger",
    "epoch_day",
    "normalize_account",
]

SECONDS_PER_DAY = 86_400
#: VCU mode shares capacity among wallets that made an API call in the last 7 days.
ACTIVITY_WINDOW = 7 * SECONDS_PER_DAY
#: Largest cost, limit or total a ledger accepts (about $9e9 a day in micro-USD): every amount
#: stays exact in SQLite's 64-bit integers and in the doubles of Redis's Lua.
MAX_AMOUNT = 2**53 - 1
INSUFFICIENT_CREDIT = "insufficient credit"

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,200}")


class Clock(Protocol):
    """A source of unix time in seconds (``time.time`` by default; tests pass their own)."""

    def __call__(self) -> float: ...


class LedgerError(Exception):
    """Base class of the ledger's own errors."""


class LedgerUnavailable(LedgerError):
    """The ledger's store could not be reached (or stayed locked) in time.

    Servers should refuse the request (fail closed) and may retry later. A debit that raised it
    was never applied in part: `SQLiteLedger` rolled it back, and a `RedisLedger` debit is one
    atomic script. With Redis, one case is undecidable: the server ran the script but went away
    before replying and stayed away past ``retry_for``; that debit may have been applied (once:
    its token stops any retry from applying it again), in the protocol's favour.
    """


def epoch_day(ts: float) -> int:
    """The UTC day number of unix time ``ts``; days roll over at 00:00 UTC."""
    return int(ts) // SECONDS_PER_DAY


def normalize_account(account: str) -> str:
    """The ledger's name for an account.

    A 20-byte hex address (``0x`` + 40 hex digits) is lower-cased, so every checksum spelling
    of a wallet shares one balance; anything else is an opaque API-key id, kept as given:
    1 to 200 printable ASCII characters without spaces.
    """
    if not isinstance(account, str):
        raise TypeError(f"account must be a str, not {type(account).__name__}")
    if _ADDRESS.fullmatch(account):
        return "0x" + account[2:].lower()
    if not _KEY_ID.fullmatch(account):
        raise ValueError(
            f"account {account!r} is neither a 0x address nor a key id "
            "(1-200 printable ASCII characters, no spaces)"
        )
    return account


def _check_amount(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of micro-USD, not {type(value).__name__}")
    if not 0 <= value <= MAX_AMOUNT:
        raise ValueError(f"{name} must be between 0 and {MAX_AMOUNT} micro-USD (got {value})")


@dataclass(frozen=True, slots=True)
class Debit:
    """The outcome of one `CreditLedger.debit`.

    ``spent`` is the account's total for ``day`` after the call (unchanged when refused) and
    ``remaining`` is ``daily_limit - spent``, never below zero.
    """

    allowed: bool
    account: str
    day: int
    cost: int
    spent: int
    remaining: int
    reason: str | None = None


def _outcome(account: str, day: int, cost: int, limit: int, allowed: bool, spent: int) -> Debit:
    return Debit(
        allowed=allowed,
        account=account,
        day=day,
        cost=cost,
        spent=spent,
        remaining=max(0, limit - spent),
        reason=None if allowed else INSUFFICIENT_CREDIT,
    )


class CreditLedger(ABC):
    """Per-account daily spend in micro-USD, debited atomically, plus recent activity."""

    #: How long activity is kept; windows longer than this are refused.
    activity_retention: int = ACTIVITY_WINDOW

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else time.time

    def today(self) -> int:
        """The current UTC day number by this ledger's clock."""
        return epoch_day(self.clock())

    def debit(self, account: str, cost: int, daily_limit: int) -> Debit:
        """Add ``cost`` to today's spend if it stays within ``daily_limit``; else change nothing.

        A cost of 0 is allowed (even at the limit) and changes nothing.
        """
        _check_amount("cost", cost)
        _check_amount("daily_limit", daily_limit)
        return self._debit_one(self.today(), normalize_account(account), cost, daily_limit)

    def debit_many(self, requests: Sequence[tuple[str, int, int]]) -> list[Debit]:
        """Debit several independent ``(account, cost, daily_limit)`` requests.

        Each debit is atomic on its own, exactly as `debit`; they are only sent together (one
        Redis pipeline, one SQLite transaction), so a refused one does not affect the others.
        """
        day = self.today()
        checked = []
        for account, cost, limit in requests:
            _check_amount("cost", cost)
            _check_amount("daily_limit", limit)
            checked.append((normalize_account(account), cost, limit))
        return self._debit_many(day, checked)

    @abstractmethod
    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        """Debit validated requests on ``day``."""

    def _debit_one(self, day: int, account: str, cost: int, limit: int) -> Debit:
        """Debit one validated request on ``day`` (a backend may do it with less work)."""
        return self._debit_many(day, [(account, cost, limit)])[0]

    def spent(self, account: str, day: int | None = None) -> int:
        """What ``account`` has spent on ``day`` (default today), in micro-USD."""
        return self._spent(normalize_account(account), self.today() if day is None else day)

    @abstractmethod
    def _spent(self, account: str, day: int) -> int:
        """Spend of a normalised account on ``day``."""

    def remaining(self, account: str, daily_limit: int) -> int:
        """What ``account`` may still spend today under ``daily_limit``."""
        _check_amount("daily_limit", daily_limit)
        return max(0, daily_limit - self.spent(account))

    def record_activity(self, account: str) -> None:
        """Note that ``account`` made an API call now."""
        self._record_activity(normalize_account(account), float(self.clock()))

    @abstractmethod
    def _record_activity(self, account: str, now: float) -> None:
        """Store ``now`` as the last call of a normalised account."""

    def last_activity(self, account: str) -> float | None:
        """Unix time of the last recorded call of ``account``, or ``None``."""
        return self._last_activity(normalize_account(account))

    @abstractmethod
    def _last_activity(self, account: str) -> float | None:
        """Last call of a normalised account."""

    def is_active(self, account: str, window: int = ACTIVITY_WINDOW) -> bool:
        """Whether ``account`` made a call in the last ``window`` seconds."""
        self._check_window(window)
        last = self.last_activity(account)
        return last is not None and last > float(self.clock()) - window

    def active_accounts(self, window: int = ACTIVITY_WINDOW) -> int:
        """How many accounts made a call in the last ``window`` seconds."""
        self._check_window(window)
        return self._count_active(float(self.clock()) - window)

    @abstractmethod
    def _count_active(self, since: float) -> int:
        """Accounts whose last call is after ``since``."""

    def active_list(self, window: int = ACTIVITY_WINDOW) -> list[str]:
        """The accounts that made a call in the last ``window`` seconds (VCU mode reads their
        stakes once a day to share the capacity)."""
        self._check_window(window)
        return self._list_active(float(self.clock()) - window)

    @abstractmethod
    def _list_active(self, since: float) -> list[str]:
        """Accounts whose last call is after ``since``."""

    def _check_window(self, window: int) -> None:
        if not 0 < window <= self.activity_retention:
            raise ValueError(
                f"window must be between 1 and {self.activity_retention} seconds "
                f"(the activity kept), got {window}"
            )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> CreditLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# SQLite


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    account TEXT NOT NULL,
    day INTEGER NOT NULL,
    spent INTEGER NOT NULL,
    PRIMARY KEY (account, day)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spend_day ON spend (day);
CREATE TABLE IF NOT EXISTS activity (
    account TEXT PRIMARY KEY,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS activity_last_seen ON activity (last_seen);
"""


class SQLiteLedger(CreditLedger):
    """A ledger in one SQLite file, durable across restarts, shared by local processes.

    Each debit is one ``BEGIN IMMEDIATE`` transaction (read, compare, write): SQLite lets one
    writer in at a time, so concurrent processes queue (up to ``busy_timeout`` seconds, in
    SQLite's own busy handler: a jittered spin-wait in Python measured slower on 2 cores) rather
    than overspend. ``synchronous="NORMAL"`` (default; WAL) keeps every committed debit across
    process crashes and restarts, and is several times faster; ``"FULL"`` also fsyncs every
    commit, so an acknowledged debit survives a power cut.

    Days older than ``retention_days`` are deleted once a day, lazily; activity older than
    ``activity_retention`` seconds is deleted with it. Connections are per thread (and per
    process after a fork). Counting active accounts is an index range count, O(log n + k) for k
    active accounts; VCU shares are recomputed once a day, so that is cheap enough.
    """

    def __init__(
        self,
        path: str | Path,
        clock: Clock | None = None,
        *,
        busy_timeout: float = 10.0,
        synchronous: str = "NORMAL",
        retention_days: int = 3,
        activity_retention: int = ACTIVITY_WINDOW,
    ) -> None:
        super().__init__(clock)
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self.retention_days = retention_days
        self.activity_retention = activity_retention
        self._local = threading.local()
        self._all: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._pruned_day: int | None = None
        self._conn()  # create the schema now, and fail early on a bad path

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"cannot open ledger {self.path}: {exc}") from exc
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._all.append((os.getpid(), conn))
        return conn

    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        conn = self._conn()
        out = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for account, cost, limit in requests:
                    row = conn.execute(
                        "SELECT spent FROM spend WHERE account = ? AND day = ?", (account, day)
                    ).fetchone()
                    spent = row[0] if row else 0
                    allowed = spent + cost <= limit
                    if allowed and cost:
                        spent += cost
                        conn.execute(
                            "INSERT INTO spend (account, day, spent) VALUES (?, ?, ?) "
                            "ON CONFLICT (account, day) DO UPDATE SET spent = excluded.spent",
                            (account, day, spent),
                        )
                    out.append(_outcome(account, day, cost, limit, allowed, spent))
                if self._pruned_day != day:
                    self._prune(conn, day)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            # "database is locked" after busy_timeout, disk I/O errors: nothing was committed.
            raise LedgerUnavailable(f"ledger {self.path}: {exc}; nothing was debited") from exc
        if self._pruned_day != day:
            self._pruned_day = day
        return out

    def _prune(self, conn: sqlite3.Connection, day: int) -> None:
        conn.execute("DELETE FROM spend WHERE day < ?", (day - self.retention_days,))
        cutoff = float(self.clock()) - self.activity_retention
        conn.execute("DELETE FROM activity WHERE last_seen <= ?", (cutoff,))

    def _spent(self, account: str, day: int) -> int:
        row = self._read("SELECT spent FROM spend WHERE account = ? AND day = ?", (account, day))
        return int(row[0]) if row else 0

    def _record_activity(self, account: str, now: float) -> None:
        try:
            self._conn().execute(
                "INSERT INTO activity (account, last_seen) VALUES (?, ?) ON CONFLICT (account) "
                "DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                (account, now),
            )
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"ledger {self.path}: {exc}") from exc

    def _last_activity(self, account: str) -> float | None:
        row = self._read("SELECT last_seen FROM activity WHERE account = ?", (account,))
        return float(row[0]) if row else None

    def _count_active(self, since: float) -> int:
        row = self._read("SELECT count(*) FROM activity WHERE last_seen > ?", (since,))
        return int(row[0]) if row else 0

    def _list_active(self, since: float) -> list[str]:
        try:
            rows = (
                self._conn()
                .execute("SELECT account FROM activity WHERE last_seen > ?", (since,))
                .fetchall()
            )
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"ledger {self.path}: {exc}") from exc
        return [str(row[0]) for row in rows]

    def _read(self, sql: str, args: tuple[Any, ...]) -> Any:
        try:
            return self._conn().execute(sql, args).fetchone()
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"ledger {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close every connection this ledger opened in this process.

        Connections inherited through a fork are left alone: they belong to the parent.
        """
        with self._lock:
            conns, self._all = self._all, []
        for pid, conn in conns:
            if pid == os.getpid():
                conn.close()
        self._local = threading.local()


# --------------------------------------------------------------------------------------------
# Redis

# KEYS[1] the account's spend for the day, KEYS[2] this debit's token.
# ARGV: cost, limit, spend TTL (s), token TTL (s).
# Returns {allowed, spent}. A token that already exists means this exact debit ran before (its
# reply was lost and the client retried): return what it returned then, debit nothing.
_DEBIT_LUA = """
local done = redis.call('GET', KEYS[2])
if done then return {1, tonumber(done)} end
local cost = tonumber(ARGV[1])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if spent + cost > tonumber(ARGV[2]) then return {0, spent} end
if cost > 0 then
  spent = redis.call('INCRBY', KEYS[1], cost)
  if spent == cost then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  redis.call('SET', KEYS[2], spent, 'EX', ARGV[4])
end
return {1, spent}
"""
_DEBIT_SHA = hashlib.sha1(_DEBIT_LUA.encode()).hexdigest()

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
    unreachable the call raises `LedgerUnavailable`.

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
        socket_timeout: float = 5.0,
        direct: bool = True,
    ) -> None:
        super().__init__(clock)
        import redis as redis_module  # optional dependency: pip install "venice-sdk[redis]"

        self._redis = redis_module
        if isinstance(client_or_url, str):
            self.client: redis.Redis = redis_module.Redis.from_url(
                client_or_url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                retry=None,  # no retries inside redis-py: _retrying() owns the deadline
            )
        else:
            self.client = client_or_url
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self._pool: Any = getattr(self.client, "connection_pool", None)
        if direct and self._pool is None:
            raise ValueError(
                "direct=True needs a client with one connection pool (redis.Redis); "
                "pass direct=False to send debits through this client"
            )
        self.direct = direct
        self.prefix = prefix
        self.retention_days = retention_days
        self.activity_retention = activity_retention
        self.token_ttl = token_ttl
        self.retry_for = retry_for
        self._activity_key = f"{prefix}:activity"
        self._token_pid = -1
        self._token_base = ""
        self._token_seq = itertools.count()
        self._errors: tuple[type[BaseException], ...] = (
            redis_module.ConnectionError,
            redis_module.TimeoutError,
            redis_module.BusyLoadingError,
            redis_module.exceptions.TryAgainError,
        )
        # Debit connections: this thread's (pid, connection), and every one opened (with the
        # pid that opened it) so close() can reach them; a thread's connection closes when the
        # thread ends.
        self._local = threading.local()
        self._direct_conns: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._direct_lock = threading.Lock()

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

    def _script_args(self, day: int, account: str, cost: int, limit: int) -> tuple[Any, ...]:
        """One debit's keys and arguments for the script, with a fresh token."""
        prefix = self.prefix
        return (
            f"{prefix}:{{{account}}}:{day}",
            f"{prefix}:{{{account}}}:t:{self._token()}",
            cost,
            limit,
            self.retention_days * SECONDS_PER_DAY,
            self.token_ttl,
        )

    def _debit_one(self, day: int, account: str, cost: int, limit: int) -> Debit:
        if not self.direct:
            return self._debit_many(day, [(account, cost, limit)])[0]
        args = self._script_args(day, account, cost, limit)
        reply = self._retrying("debiting", lambda: self._call_one(args))
        return _outcome(account, day, cost, limit, bool(reply[0]), int(reply[1]))

    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        calls = [self._script_args(day, *request) for request in requests]
        run = self._run_direct if self.direct else self._run_client
        results = self._retrying("debiting", lambda: run(calls))
        return [
            _outcome(account, day, cost, limit, bool(res[0]), int(res[1]))
            for (account, cost, limit), res in zip(requests, results, strict=True)
        ]

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
            conn.send_packed_command((_pack(conn, ("EVALSHA", _DEBIT_SHA, 2, *args)),), False)
            try:
                return conn.read_response()
            except self._redis.exceptions.NoScriptError:
                pass  # the reply was read; the script did not run (a restarted server)
            conn.send_packed_command((_pack(conn, ("EVAL", _DEBIT_LUA, 2, *args)),), False)
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

    def _run_direct(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        conn = self._connection()
        replies = self._send(conn, [_pack(conn, ("EVALSHA", _DEBIT_SHA, 2, *c)) for c in calls])
        missing = [
            i for i, r in enumerate(replies) if isinstance(r, self._redis.exceptions.NoScriptError)
        ]
        if missing:
            # The server lost its script cache (a restart): those scripts did not run, so EVAL
            # (which caches the script again) runs each of them once.
            again = self._send(
                conn, [_pack(conn, ("EVAL", _DEBIT_LUA, 2, *calls[i])) for i in missing]
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
            pipe.evalsha(_DEBIT_SHA, 2, *args)
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
            return self.client.evalsha(_DEBIT_SHA, 2, *args)
        except self._redis.exceptions.NoScriptError:
            return self.client.eval(_DEBIT_LUA, 2, *args)

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


def _pack(conn: Any, args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol: hiredis's packer (installed with the redis extra) in
    one C call, else the connection's own."""
    if _pack_command is not None:
        return _pack_command(args)
    return b"".join(conn.pack_command(*args))
