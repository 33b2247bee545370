"""`KeyStore`: what every API-key store offers (issue, resolve, revoke, list, ping), the checks
they share, and `KeyStoreUnavailable`. `ApiKeyStore` (SQLite, one host) and `RedisKeyStore`
(a fleet) implement it."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from venice_sdk.auth.common import AuthError
from venice_sdk.errors import Reason
from venice_sdk.ledger.base import MAX_AMOUNT

if TYPE_CHECKING:
    from venice_sdk.auth.keys import IssuedKey, KeyRecord

__all__ = [
    "KEY_KINDS",
    "MAX_EXPIRES_AT",
    "MAX_LABEL",
    "MAX_MODELS",
    "KeyStore",
    "KeyStoreUnavailable",
    "check_budgets",
    "check_key_args",
    "check_model",
    "dump_models",
    "key_hash",
    "load_models",
]

MAX_LABEL = 200
"""Longest key label, in characters."""
MAX_MODELS = 64
"""Most models a key's allowlist names (each at most `MAX_LABEL` characters)."""
KEY_KINDS = ("inference", "admin")
"""``inference``: spends its wallet's credit. ``admin``: spends too, and manages its wallet's
keys (list, revoke, change budgets) on the sidecar's key routes; a SIWE session is one."""
MAX_EXPIRES_AT = 253_402_300_799
"""Latest expiry a key takes: 9999-12-31T23:59:59Z (a later one cannot be written as a date)."""


class KeyStoreUnavailable(AuthError):
    """The key store could not be reached in time: the request is refused (fail closed), code
    ``key_store_unavailable``; the sidecar answers it with a 503."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.KEY_STORE_UNAVAILABLE, message)


def key_hash(key: str, pepper: bytes | None) -> str:
    """What a store keeps of a key: SHA-256, or HMAC-SHA-256 with the server's ``pepper``."""
    data = key.encode()
    if pepper is not None:
        return hmac.new(pepper, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _one_line(value: object) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_LABEL
        and not any(ch in value for ch in "\r\n\x00")
    )


def check_budgets(daily_limit_micros: int | None, monthly_limit_micros: int | None) -> None:
    """Each budget is None (no limit) or an integer of micro-USD a ledger can hold."""
    for name, value in (
        ("daily_limit_micros", daily_limit_micros),
        ("monthly_limit_micros", monthly_limit_micros),
    ):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT
        ):
            raise ValueError(f"{name} must be an integer from 0 to {MAX_AMOUNT} (micro-USD)")


def check_key_args(
    daily_limit_micros: int | None,
    label: str | None,
    *,
    monthly_limit_micros: int | None = None,
    expires_at: float | None = None,
    models: Sequence[str] | None = None,
    kind: str = "inference",
) -> tuple[str, ...] | None:
    """Check a new key's fields (raises ValueError): budgets as `check_budgets`; a label one
    line of at most `MAX_LABEL` characters; ``expires_at`` a finite Unix time; ``models`` None
    (every model) or up to `MAX_MODELS` model names; ``kind`` one of `KEY_KINDS`. Returns the
    allowlist as a sorted tuple without duplicates (None: every model)."""
    check_budgets(daily_limit_micros, monthly_limit_micros)
    if label is not None and not (_one_line(label) or label == ""):
        raise ValueError(f"label must be one line of at most {MAX_LABEL} characters")
    if expires_at is not None and (
        isinstance(expires_at, bool)
        or not isinstance(expires_at, int | float)
        or not math.isfinite(expires_at)
        or not 0 <= expires_at <= MAX_EXPIRES_AT
    ):
        raise ValueError(
            f"expires_at must be a Unix time in seconds, from 0 to {MAX_EXPIRES_AT} (9999-12-31)"
        )
    if kind not in KEY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(KEY_KINDS)}")
    if models is None:
        return None
    if isinstance(models, str) or not all(_one_line(m) for m in models):
        raise ValueError(f"models must be a list of model names (one line, {MAX_LABEL} max)")
    allowed = tuple(sorted(set(models)))
    if not 0 < len(allowed) <= MAX_MODELS:
        raise ValueError(f"models must name 1 to {MAX_MODELS} models (omit it for every model)")
    return allowed


def load_models(text: str | None) -> tuple[str, ...] | None:
    """A stored allowlist (JSON list, or empty / None for every model) as a tuple."""
    return tuple(json.loads(text)) if text else None


def dump_models(models: tuple[str, ...] | None) -> str:
    """How both stores keep an allowlist: JSON, or the empty string for every model."""
    return "" if models is None else json.dumps(list(models))


def check_model(record: KeyRecord, model: str | None) -> None:
    """Refuse ``model_not_allowed`` unless ``record``'s allowlist (if any) names ``model``
    (None, a request whose model is not known, is refused by a key with an allowlist)."""
    if record.models is not None and model not in record.models:
        raise AuthError(
            Reason.MODEL_NOT_ALLOWED, f"API key {record.key_id} may not use model {model!r}"
        )


class KeyStore(ABC):
    """Wallet-bound API keys: only a hash of each key is kept, the plaintext returned once."""

    _clock: Callable[[], float]

    def issue(
        self,
        address: str,
        has_stake: Callable[[str], bool] | bool,
        daily_limit_micros: int | None = None,
        label: str | None = None,
        *,
        monthly_limit_micros: int | None = None,
        expires_at: float | None = None,
        models: Sequence[str] | None = None,
        kind: str = "inference",
    ) -> IssuedKey:
        """Issue a key for ``address`` if it has staked VVV (code ``no_stake`` otherwise).

        ``has_stake`` is the caller's check (e.g. the entitlement client's staked > 0), called
        with the checksummed address, or its result. ``expires_at`` (Unix time): refused
        ``key_expired`` from then on; ``models``: the only models it may use
        (``model_not_allowed`` otherwise); ``kind``: see `KEY_KINDS`. Returns the plaintext
        key once."""
        from venice_sdk.auth.keys import IssuedKey, new_key

        key, record = new_key(
            address, has_stake, self._clock(), daily_limit_micros, label,
            monthly_limit_micros, expires_at, models, kind,
        )  # fmt: skip
        self._insert(key, record)
        return IssuedKey(key=key, record=record)

    @abstractmethod
    def _insert(self, key: str, record: KeyRecord) -> None:
        """Store a new key's record, found later by the key's hash."""

    @abstractmethod
    def _lookup(self, key: str) -> KeyRecord | None:
        """The record of a presented key, revoked or expired included (None: unknown)."""

    @abstractmethod
    def get(self, key_id: str) -> KeyRecord:
        """The record of a key id (revoked or expired included); refuses ``unknown_key``."""

    def set_budgets(
        self, key_id: str, daily_limit_micros: int | None, monthly_limit_micros: int | None
    ) -> KeyRecord:
        """Replace a key's daily and monthly budgets (None: no limit) without reissuing it;
        the next request is held to them. Refuses ``unknown_key`` (ValueError for a budget
        that is not micro-USD a ledger holds)."""
        check_budgets(daily_limit_micros, monthly_limit_micros)
        return self._set_budgets(key_id, daily_limit_micros, monthly_limit_micros)

    @abstractmethod
    def _set_budgets(self, key_id: str, daily: int | None, monthly: int | None) -> KeyRecord:
        """`set_budgets` with checked budgets."""

    def now(self) -> float:
        """The store's clock (Unix time), against which expiries are checked."""
        return self._clock()

    def resolve(self, key: str) -> KeyRecord:
        """The record of a presented key; refuses ``unknown_key``, ``key_revoked`` and
        ``key_expired``."""
        return self.usable(self._lookup(key))

    def usable(self, record: KeyRecord | None) -> KeyRecord:
        """``record`` (a presented key's, None: not found) if it may be used now, else the
        refusal `resolve` raises (one check for every way a key is looked up)."""
        if record is None:
            raise AuthError(Reason.UNKNOWN_KEY, "this API key is not known")
        if record.revoked:
            raise AuthError(Reason.KEY_REVOKED, f"API key {record.key_id} was revoked")
        if record.expires_at is not None and self._clock() >= record.expires_at:
            raise AuthError(Reason.KEY_EXPIRED, f"API key {record.key_id} has expired")
        return record

    @abstractmethod
    def revoke(self, key_id_or_key: str) -> KeyRecord:
        """Revoke by key id or by the key itself (idempotent); refuses ``unknown_key``."""

    @abstractmethod
    def list(self, address: str) -> builtins.list[KeyRecord]:
        """All keys of ``address`` (revoked ones included), oldest first."""

    @abstractmethod
    def ping(self) -> None:
        """Readiness: return if the store answers, else raise `KeyStoreUnavailable`."""
