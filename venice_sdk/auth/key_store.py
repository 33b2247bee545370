"""`KeyStore`: what every API-key store offers (issue, resolve, revoke, list, ping), the checks
they share, and `KeyStoreUnavailable`. `ApiKeyStore` (SQLite, one host) and `RedisKeyStore`
(a fleet) implement it."""

from __future__ import annotations

import builtins
import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from venice_sdk.auth.common import AuthError
from venice_sdk.errors import Reason
from venice_sdk.ledger.base import MAX_AMOUNT

if TYPE_CHECKING:
    from venice_sdk.auth.keys import IssuedKey, KeyRecord

__all__ = ["MAX_LABEL", "KeyStore", "KeyStoreUnavailable", "check_key_args", "key_hash"]

MAX_LABEL = 200
"""Longest key label, in characters."""


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


def check_key_args(daily_limit_micros: int | None, label: str | None) -> None:
    """A key's own limit is None or an integer of micro-USD a ledger can hold; a label is one
    line of at most `MAX_LABEL` characters. Raises ValueError."""
    if daily_limit_micros is not None and (
        isinstance(daily_limit_micros, bool)
        or not isinstance(daily_limit_micros, int)
        or not 0 <= daily_limit_micros <= MAX_AMOUNT
    ):
        raise ValueError(
            f"daily_limit_micros must be an integer from 0 to {MAX_AMOUNT} (micro-USD)"
        )
    if label is not None and (
        not isinstance(label, str)
        or len(label) > MAX_LABEL
        or any(ch in label for ch in "\r\n\x00")
    ):
        raise ValueError(f"label must be one line of at most {MAX_LABEL} characters")


class KeyStore(ABC):
    """Wallet-bound API keys: only a hash of each key is kept, the plaintext returned once."""

    @abstractmethod
    def issue(
        self,
        address: str,
        has_stake: Callable[[str], bool] | bool,
        daily_limit_micros: int | None = None,
        label: str | None = None,
    ) -> IssuedKey:
        """Issue a key for ``address`` if it has staked VVV (code ``no_stake`` otherwise)."""

    @abstractmethod
    def resolve(self, key: str) -> KeyRecord:
        """The record of a presented key; refuses ``unknown_key`` and ``key_revoked``."""

    @abstractmethod
    def revoke(self, key_id_or_key: str) -> KeyRecord:
        """Revoke by key id or by the key itself (idempotent); refuses ``unknown_key``."""

    @abstractmethod
    def list(self, address: str) -> builtins.list[KeyRecord]:
        """All keys of ``address`` (revoked ones included), oldest first."""

    @abstractmethod
    def ping(self) -> None:
        """Readiness: return if the store answers, else raise `KeyStoreUnavailable`."""
