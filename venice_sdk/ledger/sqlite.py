"""`SQLiteLedger`: a credit ledger in one SQLite file, durable across restarts (WAL mode);
processes on one machine share it and each debit is one ``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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
    LedgerUnavailable,
    month_period,
)
from venice_sdk.ledger.connections import thread_connection

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
CREATE TABLE IF NOT EXISTS holds (
    request_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    day INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    lim INTEGER NOT NULL,
    expires REAL NOT NULL,
    state TEXT NOT NULL,
    cost INTEGER NOT NULL DEFAULT 0,
    requested INTEGER NOT NULL DEFAULT 0,
    spent INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS holds_live ON holds (account, day) WHERE state = 'held';
CREATE INDEX IF NOT EXISTS holds_day ON holds (day);
"""

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
#: Rows a prune deletes in one transaction (a few ms of the write lock).
PRUNE_BATCH = 5_000
_HOLD_COLUMNS = "account, day, amount, lim, expires, state, cost, requested, spent"


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
        hold_ttl: float = HOLD_TTL,
    ) -> None:
        super().__init__(clock, hold_ttl=hold_ttl, retention_days=retention_days)
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("synchronous must be FULL, EXTRA or NORMAL")
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self.activity_retention = activity_retention
        self._local = threading.local()
        self._all: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._pruned_day: int | None = None
        self._conn()  # create the schema now, and fail early on a bad path

    def _conn(self) -> sqlite3.Connection:
        conn, opened = thread_connection(
            self._local, self.path, self.busy_timeout, _SCHEMA, "ledger",
            (f"synchronous={self.synchronous}",),
        )  # fmt: skip
        if opened:
            with self._lock:
                self._all.append((os.getpid(), conn))
        return conn

    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Debit]:
        now = float(self.clock())

        def work(conn: sqlite3.Connection) -> list[Debit]:
            out = []
            for account, cost, limit in requests:
                spent = self._day_spent(conn, account, day)
                held = self._day_held(conn, account, day, now)
                allowed = spent + held + cost <= limit
                if allowed and cost:
                    spent += cost
                    self._set_spent(conn, account, day, spent)
                out.append(base._outcome(account, day, cost, limit, allowed, spent, held))
            return out

        return self._pruning(day, work, "nothing was debited")

    def _pruning(
        self,
        day: int,
        work: Callable[[sqlite3.Connection], _T],
        nothing: str = "nothing was changed",
    ) -> _T:
        """`_transaction` of ``work`` (a debit, a reserve or a settle; a gateway only reserves
        and settles); then, the first time on ``day`` (today), the old days pruned, in short
        transactions of their own: a day's prune may delete a day of requests' holds, and in
        the request's transaction it held the write lock for all of it (other workers' reserves
        and settles waited, then failed), and its failure undid the request's settle. A prune
        that fails (the file locked past ``busy_timeout``) is logged and left to the next day's,
        which deletes what it left (tried again by each call, each would wait that long)."""
        out = self._transaction(work, nothing)
        if self._pruned_day != day:
            self._pruned_day = day  # (once a day, not once per thread waiting)
            try:
                self._prune(day)
            except LedgerUnavailable as exc:
                _log.warning("pruning the ledger's old days stopped, tried again tomorrow: %s", exc)
        return out

    def _prune(self, day: int) -> None:
        """Delete the days past the retention, `PRUNE_BATCH` rows a transaction."""
        now = float(self.clock())
        # A hold is kept as long as its day, and at least the retention past its expiry (as
        # Redis keeps its record): a hold may outlive its day's spend (a long hold_ttl, a lease
        # renewed for days) and must still settle, and a settle retried after it still answer.
        keep = self.retention_days * SECONDS_PER_DAY
        # Month periods (above MONTH_BASE): keep this month's and the last one's (a hold, and
        # the retention past its expiry, as a day's).
        month = month_period(day * SECONDS_PER_DAY)
        old = day - self.retention_days
        spend = "DELETE FROM spend WHERE (account, day) IN (SELECT account, day FROM spend WHERE "
        holds = "DELETE FROM holds WHERE request_id IN (SELECT request_id FROM holds WHERE "
        for sql, args in (
            (spend + "day < ? LIMIT ?)", (old,)),
            (holds + "day < ? AND expires < ? LIMIT ?)", (old, now - keep)),
            (spend + "day >= ? AND day < ? LIMIT ?)", (MONTH_BASE, month - 1)),
            (holds + "day >= ? AND day < ? AND expires < ? LIMIT ?)",
             (MONTH_BASE, month - 1, now - keep)),
            ("DELETE FROM activity WHERE account IN (SELECT account FROM activity WHERE "
             "last_seen <= ? LIMIT ?)", (now - self.activity_retention,)),
        ):  # fmt: skip
            while self._delete_batch(sql, (*args, PRUNE_BATCH)) == PRUNE_BATCH:
                pass

    def _delete_batch(self, sql: str, args: tuple[Any, ...]) -> int:
        return self._transaction(lambda conn: conn.execute(sql, args).rowcount, "nothing pruned")

    # --- holds ----------------------------------------------------------------------------

    @staticmethod
    def _day_spent(conn: sqlite3.Connection, account: str, day: int) -> int:
        row = conn.execute(
            "SELECT spent FROM spend WHERE account = ? AND day = ?", (account, day)
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _day_held(conn: sqlite3.Connection, account: str, day: int, now: float) -> int:
        """Live holds of ``account`` on ``day``: a hold past its expiry no longer counts, whether
        or not a call has marked it expired yet."""
        row = conn.execute(
            "SELECT coalesce(sum(amount), 0) FROM holds "
            "WHERE account = ? AND day = ? AND state = 'held' AND expires > ?",
            (account, day, now),
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _set_spent(conn: sqlite3.Connection, account: str, day: int, spent: int) -> None:
        conn.execute(
            "INSERT INTO spend (account, day, spent) VALUES (?, ?, ?) "
            "ON CONFLICT (account, day) DO UPDATE SET spent = excluded.spent",
            (account, day, spent),
        )

    @staticmethod
    def _expire(conn: sqlite3.Connection, account: str, now: float) -> None:
        conn.execute(
            "UPDATE holds SET state = 'expired' "
            "WHERE account = ? AND state = 'held' AND expires <= ?",
            (account, now),
        )

    def _transaction(
        self, work: Callable[[sqlite3.Connection], _T], nothing: str = "nothing was changed"
    ) -> _T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction: all of it or none of it. A lock
        held past ``busy_timeout`` or a disk I/O error raises `LedgerUnavailable` ending in
        ``nothing`` (nothing was committed)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"ledger {self.path}: {exc}; {nothing}") from exc
        return result

    def _find(
        self, conn: sqlite3.Connection, account: str | None, request_id: str
    ) -> tuple[Any, ...] | None:
        row = conn.execute(
            f"SELECT {_HOLD_COLUMNS} FROM holds WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None or (account is not None and row[0] != account):
            return None
        return tuple(row)

    def _hold_of(
        self, conn: sqlite3.Connection, request_id: str, row: tuple[Any, ...], now: float
    ) -> Hold:
        account, day = row[0], row[1]
        spent = self._day_spent(conn, account, day)
        held = self._day_held(conn, account, day, now)
        return base.stored_hold(request_id, account, row[1:6], spent, held)

    def _reserve(self, now: float, ask: base.HoldAsk) -> Hold:
        request_id, account, day, amount, limit, expires_at = ask

        def work(conn: sqlite3.Connection) -> Hold:
            self._expire(conn, account, now)
            row = self._find(conn, None, request_id)
            if row is not None:
                if row[0] != account or row[2] != amount:
                    raise base._reused(request_id)
                return self._hold_of(conn, request_id, row, now)
            spent = self._day_spent(conn, account, day)
            held = self._day_held(conn, account, day, now)
            if spent + held + amount > limit:
                return base.answer_hold(ask, "refused", spent, held)
            conn.execute(
                "INSERT INTO holds (request_id, account, day, amount, lim, expires, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'held')",
                (request_id, account, day, amount, limit, expires_at),
            )
            return base.answer_hold(ask, "held", spent, held + amount)

        return self._pruning(base.epoch_day(now), work)

    def _settle(
        self, now: float, account: str | None, request_id: str, cost: int
    ) -> base.Settlement:
        def work(conn: sqlite3.Connection) -> base.Settlement:
            row = self._find(conn, account, request_id)
            if row is not None:
                self._expire(conn, row[0], now)
                row = self._find(conn, account, request_id)
            if row is None:
                raise base._settle_error(request_id, None)
            owner, day, amount, limit, _, state, charged, requested, spent = row
            if state == "settled":
                held = self._day_held(conn, owner, day, now)
                return base._settlement(request_id, owner, day, amount, limit, charged, requested,
                                   spent, held)  # fmt: skip
            if state != "held":
                raise base._settle_error(request_id, state)
            charged = min(cost, amount)
            spent = self._day_spent(conn, owner, day) + charged
            if charged:
                self._set_spent(conn, owner, day, spent)
            conn.execute(
                "UPDATE holds SET state = 'settled', cost = ?, requested = ?, spent = ? "
                "WHERE request_id = ?",
                (charged, cost, spent, request_id),
            )
            held = self._day_held(conn, owner, day, now)
            return base._settlement(
                request_id, owner, day, amount, limit, charged, cost, spent, held
            )

        return self._pruning(base.epoch_day(now), work)

    def _release(self, now: float, account: str | None, request_id: str) -> Hold:
        def work(conn: sqlite3.Connection) -> Hold:
            row = self._find(conn, account, request_id)
            if row is not None:
                self._expire(conn, row[0], now)
                row = self._find(conn, account, request_id)
            if row is None or row[5] == "settled":
                raise base._release_error(request_id, None if row is None else row[5])
            if row[5] == "held":
                conn.execute(
                    "UPDATE holds SET state = 'released' WHERE request_id = ?", (request_id,)
                )
                row = (*row[:5], "released", *row[6:])
            return self._hold_of(conn, request_id, row, now)

        return self._transaction(work)

    def _renew(self, now: float, account: str | None, request_id: str, expires_at: float) -> Hold:
        def work(conn: sqlite3.Connection) -> Hold:
            row = self._find(conn, account, request_id)
            if row is not None:
                self._expire(conn, row[0], now)
                row = self._find(conn, account, request_id)
            if row is None or row[5] != "held":
                raise base._renew_error(request_id, None if row is None else row[5])
            conn.execute(
                "UPDATE holds SET expires = ? WHERE request_id = ?", (expires_at, request_id)
            )
            return self._hold_of(conn, request_id, (*row[:4], expires_at, *row[5:]), now)

        return self._transaction(work)

    def _held(self, account: str, day: int, now: float) -> int:
        try:
            return self._day_held(self._conn(), account, day, now)
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(f"ledger {self.path}: {exc}") from exc

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
