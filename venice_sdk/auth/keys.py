"""`ApiKeyStore`: API keys issued only to wallets with staked VVV; only a hash of each key is
stored, the plaintext is returned once."""

from __future__ import annotations

import builtins
import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from venice_sdk.auth.common import AuthError, normalize_address
from venice_sdk.auth.key_store import (
    MAX_LABEL,
    KeyStore,
    KeyStoreUnavailable,
    check_key_args,
    dump_models,
    key_hash,
    load_models,
)
from venice_sdk.clock import Clock
from venice_sdk.errors import Reason

__all__ = ["KEY_PREFIX", "MAX_LABEL", "ApiKeyStore", "IssuedKey", "KeyRecord", "new_key"]


KEY_PREFIX = "vvk_"
"""Every API key starts with this, so a key is told from a wallet address at a glance."""


@dataclass(frozen=True)
class KeyRecord:
    """What the server knows about a key (never the key itself)."""

    key_id: str
    address: str
    daily_limit_micros: int | None
    """Per-day USD limit in micro-USD (1e-6 USD); None means no per-key limit."""
    revoked: bool
    label: str | None = None
    created_at: float = 0.0
    monthly_limit_micros: int | None = None
    """Per-UTC-calendar-month USD limit in micro-USD; None means none."""
    expires_at: float | None = None
    """Unix time from which the key is refused (``key_expired``); None: never."""
    models: tuple[str, ...] | None = None
    """The only models the key may use; None: every model."""
    kind: str = "inference"
    """``inference`` or ``admin`` (see `venice_sdk.auth.key_store.KEY_KINDS`)."""

    def public(self) -> dict[str, Any]:
        """The record as JSON-able metadata (never the key: a store does not have it)."""
        return {
            "key_id": self.key_id,
            "address": self.address,
            "kind": self.kind,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked": self.revoked,
            "models": None if self.models is None else list(self.models),
            "daily_limit_micros": self.daily_limit_micros,
            "monthly_limit_micros": self.monthly_limit_micros,
        }


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key: ``key`` is the plaintext, shown to the user once and never stored."""

    key: str = field(repr=False)
    record: KeyRecord

    @property
    def key_id(self) -> str:
        return self.record.key_id


_ADDED_COLUMNS = (
    ("monthly_limit_micros", "INTEGER"),
    ("expires_at", "REAL"),
    ("models", "TEXT"),
    ("kind", "TEXT"),
)


def new_key(
    address: str,
    has_stake: Callable[[str], bool] | bool,
    created_at: float,
    daily_limit_micros: int | None,
    label: str | None,
    monthly_limit_micros: int | None,
    expires_at: float | None,
    models: Sequence[str] | None,
    kind: str,
) -> tuple[str, KeyRecord]:
    """A new key and its record, for either store: the address checksummed, the fields checked
    (`check_key_args`, ValueError), then the stake (``no_stake`` if ``has_stake`` says none)."""
    checksummed = normalize_address(address)
    allowed = check_key_args(
        daily_limit_micros,
        label,
        monthly_limit_micros=monthly_limit_micros,
        expires_at=expires_at,
        models=models,
        kind=kind,
    )
    staked = has_stake(checksummed) if callable(has_stake) else has_stake
    if not staked:
        raise AuthError(
            Reason.NO_STAKE, f"{checksummed} has no staked VVV: stake VVV to get an API key"
        )
    record = KeyRecord(
        key_id="key_" + secrets.token_hex(8),
        address=checksummed,
        daily_limit_micros=daily_limit_micros,
        revoked=False,
        label=label,
        created_at=created_at,
        monthly_limit_micros=monthly_limit_micros,
        expires_at=None if expires_at is None else float(expires_at),
        models=allowed,
        kind=kind,
    )
    return KEY_PREFIX + secrets.token_urlsafe(32), record


class ApiKeyStore(KeyStore):
    """Wallet-bound API keys in a SQLite file; only SHA-256 (or HMAC-SHA-256 with a server
    ``pepper``) of each key is stored.

    Each thread of each process keeps one connection to the file (opening one per lookup cost
    the gateway about 7% of its CPU); every statement runs in autocommit mode, so a lookup
    sees every write committed before it, from any process (a revocation takes effect on the
    next request)."""

    def __init__(
        self,
        path: str | Path,
        *,
        pepper: bytes | None = None,
        clock: Clock = time.time,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.path = str(path)
        self._pepper = pepper
        self._clock = clock
        self._timeout = busy_timeout_s
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS api_keys ("
                " key_id TEXT PRIMARY KEY,"
                " key_hash TEXT NOT NULL UNIQUE,"
                " address TEXT NOT NULL,"
                " daily_limit_micros INTEGER,"
                " label TEXT,"
                " created_at REAL NOT NULL,"
                " revoked_at REAL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS api_keys_address ON api_keys(address)")
            # Columns added since the first release: a file written by it still loads, its
            # keys with no expiry, every model, no monthly budget, of kind inference.
            have = {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}
            for column, kind in _ADDED_COLUMNS:
                if column not in have:
                    try:
                        db.execute(f"ALTER TABLE api_keys ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise

    def __repr__(self) -> str:
        return f"ApiKeyStore({self.path!r}, peppered={self._pepper is not None})"

    @staticmethod
    def live_keys(path: str | Path, now: float | None = None) -> int:
        """How many keys of the store at ``path`` are neither revoked nor expired, read without
        opening the store (nothing is created or migrated); 0 for a file that is not one."""
        try:
            db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        except sqlite3.Error:
            return 0
        try:
            columns = {row[1] for row in db.execute("PRAGMA table_info(api_keys)")}
            query = "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"
            if "expires_at" not in columns:  # (a file of the first release has no expiries)
                return int(db.execute(query).fetchone()[0])
            unexpired = " AND (expires_at IS NULL OR expires_at > ?)"
            moment = time.time() if now is None else now
            return int(db.execute(query + unexpired, (moment,)).fetchone()[0])
        except sqlite3.Error:  # (no such table, not a database: no keys)
            return 0
        finally:
            db.close()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (a new one in a new process: a forked worker)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            self._local.db, self._local.pid = db, os.getpid()
        try:
            yield db
        except sqlite3.Error:
            # A connection that failed is not trusted again (the file may have moved).
            self._local.db = None
            db.close()
            raise

    def _hash(self, key: str) -> str:
        return key_hash(key, self._pepper)

    @staticmethod
    def _record(row: tuple[Any, ...]) -> KeyRecord:
        key_id, address, limit, label, created_at, revoked_at, monthly, expires, models, kind = row
        return KeyRecord(
            key_id=str(key_id),
            address=str(address),
            daily_limit_micros=None if limit is None else int(limit),
            revoked=revoked_at is not None,
            label=None if label is None else str(label),
            created_at=float(created_at),
            monthly_limit_micros=None if monthly is None else int(monthly),
            expires_at=None if expires is None else float(expires),
            models=load_models(models),
            kind=str(kind or "inference"),
        )

    _COLUMNS = (
        "key_id, address, daily_limit_micros, label, created_at, revoked_at,"
        " monthly_limit_micros, expires_at, models, kind"
    )

    def _insert(self, key: str, record: KeyRecord) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO api_keys(key_id, key_hash, address, daily_limit_micros, label,"
                " created_at, revoked_at, monthly_limit_micros, expires_at, models, kind)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)",
                (
                    record.key_id,
                    self._hash(key),
                    record.address,
                    record.daily_limit_micros,
                    record.label,
                    record.created_at,
                    record.monthly_limit_micros,
                    record.expires_at,
                    dump_models(record.models) or None,
                    record.kind,
                ),
            )

    def _find_by_key(self, db: sqlite3.Connection, key: str) -> tuple[Any, ...] | None:
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        row: tuple[Any, ...] | None = db.execute(
            f"SELECT {self._COLUMNS} FROM api_keys WHERE key_hash = ?", (self._hash(key),)
        ).fetchone()
        return row

    def _lookup(self, key: str) -> KeyRecord | None:
        # A request's lookup: the file failing is the store unavailable (a 503), not an error.
        try:
            with self._connect() as db:
                row = self._find_by_key(db, key)
        except sqlite3.Error as exc:
            raise KeyStoreUnavailable(f"key store {self.path}: {exc}") from exc
        return None if row is None else self._record(row)

    def get(self, key_id: str) -> KeyRecord:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {self._COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        return self._record(row)

    def _set_budgets(self, key_id: str, daily: int | None, monthly: int | None) -> KeyRecord:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE api_keys SET daily_limit_micros = ?, monthly_limit_micros = ?"
                " WHERE key_id = ?",
                (daily, monthly, key_id),
            ).rowcount
        if not changed:
            raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        return self.get(key_id)

    def revoke(self, key_id_or_key: str) -> KeyRecord:
        """Revoke by key id or by the key itself (idempotent); refuses ``unknown_key``."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if key_id_or_key.startswith(KEY_PREFIX):
                    row = self._find_by_key(db, key_id_or_key)
                else:
                    row = db.execute(
                        f"SELECT {self._COLUMNS} FROM api_keys WHERE key_id = ?", (key_id_or_key,)
                    ).fetchone()
                if row is None:
                    db.execute("ROLLBACK")
                    raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
                db.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                    (self._clock(), row[0]),
                )
                db.execute("COMMIT")
            except AuthError:
                raise
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return replace(self._record(row), revoked=True)

    def list(self, address: str) -> builtins.list[KeyRecord]:
        """All keys of ``address`` (revoked ones included), oldest first."""
        checksummed = normalize_address(address)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {self._COLUMNS} FROM api_keys WHERE address = ?"
                " ORDER BY created_at, rowid",
                (checksummed,),
            ).fetchall()
        return [self._record(tuple(row)) for row in rows]

    def ping(self) -> None:
        """Readiness: the file opens and answers a query."""
        try:
            with self._connect() as db:
                db.execute("SELECT count(*) FROM api_keys WHERE 0").fetchone()
        except sqlite3.Error as exc:
            raise KeyStoreUnavailable(f"key store {self.path}: {exc}") from exc
