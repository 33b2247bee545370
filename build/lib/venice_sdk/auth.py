"""Who is calling: wallet-bound API keys and Sign-In with Ethereum, for inference servers.

Three pieces, as in the real system (PROTOCOL.md, "Inference-server entitlements"):

- `WalletChallenges`: the server issues a short-lived challenge (15 minutes by default) for a
  wallet, the wallet signs its text with ``personal_sign`` (EIP-191), the server checks the
  signature and consumes the challenge exactly once.
- `SiweVerifier`: Sign-In with Ethereum (EIP-4361) for the dashboard, with single-use nonces
  from the same stores.
- `ApiKeyStore`: API keys issued only to wallets with staked VVV; only a hash of each key is
  stored, the plaintext is returned once.

Single-use state lives behind `ChallengeStore` (put / get / take, where ``take`` is an atomic
get-and-delete): `InMemoryChallengeStore` for one process, `SQLiteChallengeStore` for several
processes on one host, `RedisChallengeStore` for a fleet.

Every refusal raises `AuthError` with a machine-readable ``code``. Keys and signatures are never
put into error messages.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from siwe import SiweMessage  # type: ignore[import-untyped]

__all__ = [
    "CHALLENGE_TTL_SECONDS",
    "KEY_PREFIX",
    "ApiKeyStore",
    "AuthError",
    "AuthErrorCode",
    "Challenge",
    "ChallengeStore",
    "Clock",
    "InMemoryChallengeStore",
    "IssuedKey",
    "KeyRecord",
    "RedisChallengeStore",
    "RedisLike",
    "SQLiteChallengeStore",
    "SiweVerifier",
    "WalletChallenges",
    "normalize_address",
    "recover_signer",
]

Clock = Callable[[], float]
"""Seconds since the Unix epoch (``time.time`` by default; tests inject a fake)."""

CHALLENGE_TTL_SECONDS = 15 * 60
"""How long a wallet challenge or a SIWE nonce stays valid."""

_GRACE_SECONDS = 60 * 60
"""How long stores keep an expired challenge or a consumed one's marker, so a late or
replayed attempt is refused with the precise code instead of "unknown"."""

KEY_PREFIX = "vvk_"

AuthErrorCode = Literal[
    "nonce_replayed",
    "challenge_expired",
    "unknown_challenge",
    "bad_signature",
    "wrong_domain",
    "wrong_chain",
    "wrong_uri",
    "not_yet_valid",
    "expired",
    "malformed_address",
    "malformed_message",
    "no_stake",
    "key_revoked",
    "unknown_key",
]


class AuthError(Exception):
    """A refused authentication step; ``code`` is stable and machine-readable."""

    def __init__(self, code: AuthErrorCode, message: str) -> None:
        super().__init__(code, message)  # both in args, so the error pickles across processes
        self.code: AuthErrorCode = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --------------------------------------------------------------------------- addresses, sigs

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(address: object) -> str:
    """Return the EIP-55 checksummed form of ``address``, comparing case-insensitively.

    Refuses anything that is not ``0x`` followed by 40 hex digits (code ``malformed_address``).
    """
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address.strip()):
        raise AuthError("malformed_address", "expected an address: 0x followed by 40 hex digits")
    return str(to_checksum_address(address.strip()))


def recover_signer(text: str, signature: str | bytes) -> str:
    """The checksummed address whose EIP-191 ``personal_sign`` signature over ``text`` this is.

    Any signature that cannot be recovered (wrong length, bad hex, invalid v/r/s) is refused
    with code ``bad_signature``.
    """
    if isinstance(signature, str):
        raw = signature.strip()
        raw = raw[2:] if raw[:2].lower() == "0x" else raw
        try:
            sig = bytes.fromhex(raw)
        except ValueError:
            raise AuthError("bad_signature", "the signature is not hex") from None
    elif isinstance(signature, bytes | bytearray):
        sig = bytes(signature)
    else:
        raise AuthError("bad_signature", "the signature must be hex text or bytes")
    if len(sig) != 65:
        raise AuthError("bad_signature", f"a signature is 65 bytes, got {len(sig)}")
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=sig))
    except Exception:  # eth-keys / eth-account raise several types for invalid v, r, s
        raise AuthError("bad_signature", "the signature does not recover to an address") from None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- stores


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


def _missing_code(store: ChallengeStore, key: str) -> AuthErrorCode:
    return "nonce_replayed" if store.get("used:" + key) is not None else "unknown_challenge"


# --------------------------------------------------------------------------- wallet challenges


@dataclass(frozen=True)
class Challenge:
    """A challenge for one wallet: ``message`` is the exact text to ``personal_sign``."""

    address: str
    nonce: str
    message: str
    issued_at: float
    expires_at: float


class WalletChallenges:
    """Issue and verify EIP-191 challenges that bind a wallet to the caller.

    One outstanding challenge per wallet: issuing a new one supersedes the previous one.
    A failed verification (bad signature) does not consume the challenge, so a third party
    cannot burn someone's challenge by sending garbage; a successful one consumes it.
    """

    def __init__(
        self,
        domain: str,
        store: ChallengeStore,
        *,
        ttl_seconds: int = CHALLENGE_TTL_SECONDS,
        clock: Clock = time.time,
    ) -> None:
        if not domain or "\n" in domain:
            raise ValueError("domain must be one non-empty line")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.domain = domain
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _text(self, address: str, nonce: str, issued_at: float, expires_at: float) -> str:
        return (
            f"{self.domain} asks you to sign this message to prove you control this wallet"
            " and to get an API key for it. It costs nothing and sends no transaction.\n"
            "\n"
            f"Address: {address}\n"
            f"Nonce: {nonce}\n"
            f"Issued At: {_iso(issued_at)}\n"
            f"Expiration Time: {_iso(expires_at)}"
        )

    def issue_challenge(self, address: str) -> Challenge:
        """A new challenge (128-bit random nonce) for ``address``; supersedes any earlier one."""
        checksummed = normalize_address(address)
        nonce = secrets.token_hex(16)
        issued_at = self._clock()
        expires_at = issued_at + self.ttl_seconds
        challenge = Challenge(
            address=checksummed,
            nonce=nonce,
            message=self._text(checksummed, nonce, issued_at, expires_at),
            issued_at=issued_at,
            expires_at=expires_at,
        )
        record = json.dumps(
            {"nonce": nonce, "message": challenge.message, "expires_at": expires_at}
        )
        self.store.put(self._key(checksummed), record, self.ttl_seconds + _GRACE_SECONDS)
        return challenge

    @staticmethod
    def _key(checksummed: str) -> str:
        return "wallet:" + checksummed.lower()

    def verify_challenge(self, address: str, signature: str | bytes) -> str:
        """Check ``signature`` over this wallet's outstanding challenge and consume it.

        Returns the checksummed address. Refuses (``AuthError``): ``malformed_address``,
        ``unknown_challenge`` (none issued, or superseded), ``nonce_replayed`` (already used),
        ``challenge_expired``, ``bad_signature`` (not signed by ``address`` over exactly the
        issued text).
        """
        checksummed = normalize_address(address)
        key = self._key(checksummed)
        raw = self.store.get(key)
        if raw is None:
            code = _missing_code(self.store, key)
            if code == "nonce_replayed":
                raise AuthError(code, "this challenge was already used: request a new one")
            raise AuthError(code, "no challenge is outstanding for this wallet: request one")
        record = json.loads(raw)
        if self._clock() >= float(record["expires_at"]):
            raise AuthError(
                "challenge_expired",
                f"the challenge expired at {_iso(float(record['expires_at']))}: request a new one",
            )
        signer = recover_signer(str(record["message"]), signature)
        if signer.lower() != checksummed.lower():
            raise AuthError(
                "bad_signature",
                f"the signature is not {checksummed}'s over the issued challenge text",
            )
        self.store.put("used:" + key, "1", self.ttl_seconds + _GRACE_SECONDS)  # see _consume
        taken = self.store.take(key)
        if taken is None:
            raise AuthError("nonce_replayed", "this challenge was used by a concurrent request")
        newer = json.loads(taken)
        if newer["nonce"] != record["nonce"]:
            # Issued between our read and our take: put the newer challenge back untouched.
            remaining = float(newer["expires_at"]) - self._clock() + _GRACE_SECONDS
            self.store.put(key, taken, max(remaining, 1.0), only_if_absent=True)
            raise AuthError(
                "unknown_challenge", "the challenge was superseded by a newer one: sign that one"
            )
        return checksummed


# --------------------------------------------------------------------------- SIWE (EIP-4361)


def _parse_time(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise AuthError("malformed_message", f"{what} is not an ISO-8601 time") from None
    if value.tzinfo is None:
        raise AuthError("malformed_message", f"{what} has no time zone")
    return value


class SiweVerifier:
    """Sign-In with Ethereum (EIP-4361) for one domain and chain, with single-use nonces.

    The signature is checked over the exact text the wallet signed (not a re-serialisation),
    and every field that is checked is parsed from that same text.
    """

    def __init__(
        self,
        domain: str,
        uri: str | None = None,
        *,
        chain_id: int,
        store: ChallengeStore,
        clock: Clock = time.time,
        nonce_ttl_seconds: int = CHALLENGE_TTL_SECONDS,
        max_clock_skew_seconds: int = 60,
    ) -> None:
        if not domain:
            raise ValueError("domain must not be empty")
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise ValueError("chain_id must be a positive integer")
        self.domain = domain
        self.uri = uri
        self.chain_id = chain_id
        self.store = store
        self._clock = clock
        self.nonce_ttl_seconds = nonce_ttl_seconds
        self.max_clock_skew_seconds = max_clock_skew_seconds

    def nonce(self) -> str:
        """A fresh single-use nonce (128 random bits, 32 hex characters) to put in a message."""
        while True:
            nonce = secrets.token_hex(16)
            expires_at = self._clock() + self.nonce_ttl_seconds
            stored = self.store.put(
                "siwe:" + nonce,
                json.dumps({"expires_at": expires_at}),
                self.nonce_ttl_seconds + _GRACE_SECONDS,
                only_if_absent=True,
            )
            if stored:
                return nonce

    def verify(self, message_text: str, signature: str | bytes) -> str:
        """Check a signed SIWE message and consume its nonce; returns the checksummed address.

        Refuses (``AuthError``): ``malformed_message``, ``wrong_domain``, ``wrong_uri``,
        ``wrong_chain``, ``not_yet_valid`` (issued in the future or before not-before),
        ``expired`` (past expiration-time), ``unknown_challenge`` (a nonce we never issued),
        ``challenge_expired`` (our nonce is too old), ``nonce_replayed``, ``bad_signature``.
        """
        if not isinstance(message_text, str):
            raise AuthError("malformed_message", "the message must be text")
        try:
            message = SiweMessage.from_message(message_text)
        except (ValueError, TypeError) as exc:
            reason = "not an EIP-4361 message"
            if "EIP-55" in str(exc):
                reason = "the address in the message is not EIP-55 checksummed"
            raise AuthError("malformed_message", reason) from None
        if message.domain != self.domain:
            raise AuthError(
                "wrong_domain", f"the message is for {message.domain!r}, not {self.domain!r}"
            )
        if self.uri is not None and message.uri != self.uri:
            raise AuthError(
                "wrong_uri", f"the message is for URI {message.uri!r}, not {self.uri!r}"
            )
        if message.chain_id != self.chain_id:
            raise AuthError(
                "wrong_chain", f"the message is for chain {message.chain_id}, not {self.chain_id}"
            )

        now_ts = self._clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        issued_at = _parse_time(message.issued_at, "Issued At")
        if (issued_at - now).total_seconds() > self.max_clock_skew_seconds:
            raise AuthError("not_yet_valid", "the message is issued in the future")
        if message.expiration_time is not None and now >= _parse_time(
            message.expiration_time, "Expiration Time"
        ):
            raise AuthError("expired", f"the message expired at {message.expiration_time}")
        if message.not_before is not None and now < _parse_time(message.not_before, "Not Before"):
            raise AuthError("not_yet_valid", f"the message is valid from {message.not_before}")

        key = "siwe:" + str(message.nonce)
        raw = self.store.get(key)
        if raw is None:
            code = _missing_code(self.store, key)
            if code == "nonce_replayed":
                raise AuthError(code, "this nonce was already used: sign in again")
            raise AuthError(code, "this nonce was not issued by this server")
        if now_ts >= float(json.loads(raw)["expires_at"]):
            raise AuthError("challenge_expired", "the nonce expired: sign in again")

        address = str(message.address)
        signer = recover_signer(message_text, signature)
        if signer.lower() != address.lower():
            raise AuthError("bad_signature", f"the signature is not {address}'s over this message")
        if not _consume(self.store, key, self.nonce_ttl_seconds + _GRACE_SECONDS):
            raise AuthError("nonce_replayed", "this nonce was used by a concurrent request")
        return str(to_checksum_address(address))


# --------------------------------------------------------------------------- API keys


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


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key: ``key`` is the plaintext, shown to the user once and never stored."""

    key: str = field(repr=False)
    record: KeyRecord

    @property
    def key_id(self) -> str:
        return self.record.key_id


class ApiKeyStore:
    """Wallet-bound API keys in a SQLite file; only SHA-256 (or HMAC-SHA-256 with a server
    ``pepper``) of each key is stored."""

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

    def __repr__(self) -> str:
        return f"ApiKeyStore({self.path!r}, peppered={self._pepper is not None})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def _hash(self, key: str) -> str:
        data = key.encode()
        if self._pepper is not None:
            return hmac.new(self._pepper, data, hashlib.sha256).hexdigest()
        return hashlib.sha256(data).hexdigest()

    @staticmethod
    def _record(row: tuple[Any, ...]) -> KeyRecord:
        key_id, address, limit, label, created_at, revoked_at = row
        return KeyRecord(
            key_id=str(key_id),
            address=str(address),
            daily_limit_micros=None if limit is None else int(limit),
            revoked=revoked_at is not None,
            label=None if label is None else str(label),
            created_at=float(created_at),
        )

    _COLUMNS = "key_id, address, daily_limit_micros, label, created_at, revoked_at"

    def issue(
        self,
        address: str,
        has_stake: Callable[[str], bool] | bool,
        daily_limit_micros: int | None = None,
        label: str | None = None,
    ) -> IssuedKey:
        """Issue a key for ``address`` if it has staked VVV (code ``no_stake`` otherwise).

        ``has_stake`` is the caller's check (e.g. the entitlement client's staked > 0), called
        with the checksummed address, or its result. Returns the plaintext key once.
        """
        checksummed = normalize_address(address)
        if daily_limit_micros is not None and (
            isinstance(daily_limit_micros, bool)
            or not isinstance(daily_limit_micros, int)
            or daily_limit_micros < 0
        ):
            raise ValueError("daily_limit_micros must be a non-negative integer (micro-USD)")
        staked = has_stake(checksummed) if callable(has_stake) else has_stake
        if not staked:
            raise AuthError(
                "no_stake", f"{checksummed} has no staked VVV: stake VVV to get an API key"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            key_id="key_" + secrets.token_hex(8),
            address=checksummed,
            daily_limit_micros=daily_limit_micros,
            revoked=False,
            label=label,
            created_at=self._clock(),
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO api_keys(key_id, key_hash, address, daily_limit_micros, label,"
                " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    record.key_id,
                    self._hash(key),
                    checksummed,
                    daily_limit_micros,
                    label,
                    record.created_at,
                ),
            )
        return IssuedKey(key=key, record=record)

    def _find_by_key(self, db: sqlite3.Connection, key: str) -> tuple[Any, ...] | None:
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        row: tuple[Any, ...] | None = db.execute(
            f"SELECT {self._COLUMNS} FROM api_keys WHERE key_hash = ?", (self._hash(key),)
        ).fetchone()
        return row

    def resolve(self, key: str) -> KeyRecord:
        """The record for a presented key; refuses ``unknown_key`` and ``key_revoked``."""
        with self._connect() as db:
            row = self._find_by_key(db, key)
        if row is None:
            raise AuthError("unknown_key", "this API key is not known")
        record = self._record(row)
        if record.revoked:
            raise AuthError("key_revoked", f"API key {record.key_id} was revoked")
        return record

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
                    raise AuthError("unknown_key", "no such API key")
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
        return self._record((*row[:5], True))

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
