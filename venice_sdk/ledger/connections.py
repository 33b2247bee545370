"""What the SDK's SQLite and Redis stores (ledgers, usage, rate limits) share: one SQLite
connection per thread and process, and a Redis client made from a URL or taken as given."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from venice_sdk.ledger.base import LedgerUnavailable

if TYPE_CHECKING:
    import redis

__all__ = ["check_redis_url", "redis_client", "thread_connection", "unavailable_errors"]


def thread_connection(
    local: threading.local,
    path: Path,
    busy_timeout: float,
    schema: str,
    what: str,
    pragmas: tuple[str, ...] = (),
) -> tuple[sqlite3.Connection, bool]:
    """This thread's connection to ``path`` (WAL, ``pragmas``, ``schema`` applied), kept in
    ``local``; a forked child opens its own. Also whether it was opened now. A file that cannot
    be opened raises `LedgerUnavailable` naming ``what`` it is."""
    conn: sqlite3.Connection | None = getattr(local, "conn", None)
    if conn is not None and local.pid == os.getpid():
        return conn, False
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        for pragma in pragmas:
            conn.execute(f"PRAGMA {pragma}")
        conn.executescript(schema)
    except sqlite3.Error as exc:
        raise LedgerUnavailable(f"cannot open {what} {path}: {exc}") from exc
    local.conn, local.pid = conn, os.getpid()
    return conn, True


def check_redis_url(url: str) -> None:
    """Raise ValueError, saying how to write one, unless ``url`` is a Redis URL the client
    parses (redis-py's own error is a traceback out of the first connection's setup)."""
    from redis.connection import parse_url

    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(
            f"{url!r} is not a Redis URL ({exc}): write redis://HOST:PORT/DB, rediss://... "
            "for TLS or unix:///path/to/redis.sock"
        ) from None


def redis_client(
    client_or_url: redis.Redis | str, socket_timeout: float, **options: Any
) -> tuple[ModuleType, redis.Redis]:
    """The `redis` module (an optional dependency: pip install "venice-sdk[redis]") and a client:
    ``client_or_url`` itself, or one made from the URL with ``socket_timeout`` for connecting
    and reading and ``options``."""
    import redis as redis_module

    if not isinstance(client_or_url, str):
        return redis_module, client_or_url
    client = redis_module.Redis.from_url(
        client_or_url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        **options,
    )
    return redis_module, client


def unavailable_errors(redis_module: ModuleType) -> tuple[type[Exception], ...]:
    """The Redis errors that mean "not now" rather than a bug: away or timed out, loading its
    data, or refusing for now (a read-only replica during a failover or named by the URL, a
    replica cut off from its primary, a cluster resharding). Each store answers them as
    unavailable (a 503), not as a 500."""
    errors = redis_module.exceptions
    return (
        errors.ConnectionError,
        errors.TimeoutError,
        errors.BusyLoadingError,
        errors.TryAgainError,
        errors.ReadOnlyError,
        errors.MasterDownError,
        errors.ClusterDownError,
    )
