"""Short-lived single-use values behind `ChallengeStore` (put / get / take, where ``take`` is an
atomic get-and-delete): `InMemoryChallengeStore` for one process, `SQLiteChallengeStore` for
several processes on one host, `RedisChallengeStore` for a fleet."""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from venice_sdk.clock import Clock
from venice_sdk.errors import Reason

__all__ = [
    "ChallengeStore",
    "InMemoryChallengeStore",
    "RedisChallengeStore",
    "RedisLike",
    "SQLiteChallengeStore",
]


class ChallengeStore(ABC):
    """Short-lived single-use values: the adapter every backend implements.

    Keys and values are text. ``ttl`` is seconds after which the store may forget the entry
    (expiry as seen by the protocol is checked by the caller from the value it stored).
    """

    @abstractmethod
    def put(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds; with ``only_if_absent`` do nothing
        and return False if a live entry exists. Returns True when stored."""

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The live value under ``key`` or None; does not consume it."""

    @abstractmethod
    def take(self, key: str) -> str | None:
        """Atomically return and delete the live value under ``key``: among any number of
        concurrent callers (threads, processes, servers sharing the backend) at most one gets
        the value, the others get None."""


class InMemoryChallengeStore(ChallengeStore):
    """A dict behind a lock: one process only (tests, a single server)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[str, float]] = {}

    def _live(self, key: str, now: float) -> tuple[str, float] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    def put(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        with self._lock:
            now = self._clock()
            if only_if_absent and self._live(key, now) is not None:
                return False
            self._data[key] = (value, now + ttl)
            return True

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._live(key, self._clock())
            return None if entry is None else entry[0]

    def take(self, key: str) -> str | None:
        with self._lock:
            entry = self._live(key, self._clock())
            if entry is None:
                return None
            del self._data[key]
            return entry[0]


class SQLiteChallengeStore(ChallengeStore):
    """A durable store in one SQLite file, safe for several processes on one host.

    Each call opens its own connection (so the store may be shared across threads and survives
    forks); ``take`` is a single ``DELETE ... RETURNING`` statement, atomic under SQLite's
    write lock, so two processes racing for the same key cannot both get it.
    """

    def __init__(
        self, path: str | Path, clock: Clock = time.time, busy_timeout_s: float = 10.0
    ) -> None:
        self.path = str(path)
        self._clock = clock
        self._timeout = busy_timeout_s
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS challenges ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, purge_at REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS challenges_purge ON challenges(purge_at)")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def put(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        now = self._clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM challenges WHERE purge_at <= ?", (now,))
                if only_if_absent:
                    cur = db.execute(
                        "INSERT INTO challenges(key, value, purge_at) VALUES (?, ?, ?)"
                        " ON CONFLICT(key) DO NOTHING",
                        (key, value, now + ttl),
                    )
                    stored = cur.rowcount == 1
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO challenges(key, value, purge_at) VALUES (?, ?, ?)",
                        (key, value, now + ttl),
                    )
                    stored = True
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return stored

    def get(self, key: str) -> str | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT value FROM challenges WHERE key = ? AND purge_at > ?",
                (key, self._clock()),
            ).fetchone()
        return None if row is None else str(row[0])

    def take(self, key: str) -> str | None:
        with self._connect() as db:
            row = db.execute(
                "DELETE FROM challenges WHERE key = ? AND purge_at > ? RETURNING value",
                (key, self._clock()),
            ).fetchone()
        return None if row is None else str(row[0])


class RedisLike(Protocol):
    """The part of a ``redis.Redis`` client this module uses (sync client)."""

    def set(self, name: str, value: str, *, ex: int | None = ..., nx: bool = ...) -> Any: ...

    def get(self, name: str) -> Any: ...

    def getdel(self, name: str) -> Any: ...


class RedisChallengeStore(ChallengeStore):
    """Single-use values in Redis (>= 6.2), shared by a fleet of servers.

    ``put`` is ``SET key value EX ttl [NX]``; ``take`` is ``GETDEL``, atomic on the server.
    Works with clients created with or without ``decode_responses``.
    """

    def __init__(self, client: RedisLike, prefix: str = "venice:auth:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "venice:auth:") -> RedisChallengeStore:
        """Connect with the ``redis`` package (install the ``redis`` extra)."""
        import redis  # optional dependency, imported only when asked for

        client: RedisLike = redis.Redis.from_url(url)
        return cls(client, prefix)

    @staticmethod
    def _text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value.decode()
        return str(value)

    def put(self, key: str, value: str, ttl: float, *, only_if_absent: bool = False) -> bool:
        seconds = max(1, math.ceil(ttl))
        return bool(self._client.set(self._prefix + key, value, ex=seconds, nx=only_if_absent))

    def get(self, key: str) -> str | None:
        return self._text(self._client.get(self._prefix + key))

    def take(self, key: str) -> str | None:
        return self._text(self._client.getdel(self._prefix + key))


def _consume(store: ChallengeStore, key: str, ttl: float) -> bool:
    """Take ``key`` once; leave a "used" marker first, so a replay, even one racing the winner
    between its read and its take, is refused as a replay rather than as unknown."""
    store.put("used:" + key, "1", ttl)
    return store.take(key) is not None


def _missing_code(store: ChallengeStore, key: str) -> Reason:
    return (
        Reason.NONCE_REPLAYED if store.get("used:" + key) is not None else Reason.UNKNOWN_CHALLENGE
    )
