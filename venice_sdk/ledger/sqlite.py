"""`SQLiteLedger`: a credit ledger in one SQLite file, durable across restarts (WAL mode);
processes on one machine share it and each debit is one ``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from venice_sdk.clock import Clock
from venice_sdk.ledger.base import ACTIVITY_WINDOW, CreditLedger, Debit, LedgerUnavailable, _outcome

__all__ = ["SQLiteLedger"]


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
