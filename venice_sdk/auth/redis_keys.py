"""`RedisKeyStore`: API keys in Redis, shared by every replica of a fleet, so a key issued on
one server works on the next at once and a revocation on one is refused by all at once."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from venice_sdk.auth.common import AuthError, normalize_address
from venice_sdk.auth.key_store import (
    KeyStore,
    KeyStoreUnavailable,
    dump_models,
    key_hash,
    load_models,
)
from venice_sdk.auth.keys import KEY_PREFIX, KeyRecord
from venice_sdk.clock import Clock
from venice_sdk.errors import Reason
from venice_sdk.ledger.connections import unavailable_errors

if TYPE_CHECKING:  # redis is an optional extra
    import redis

__all__ = ["RedisKeyStore"]


def _budget_fields(daily: int | None, monthly: int | None) -> dict[Any, Any]:
    """A key's budgets as hash fields (the empty string: no limit)."""
    return {
        "limit": "" if daily is None else str(daily),
        "monthly": "" if monthly is None else str(monthly),
    }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisKeyStore(KeyStore):
    """Wallet-bound API keys in Redis; only a hash of each key is stored (HMAC-SHA-256 with the
    server's ``pepper`` if given, as `ApiKeyStore`), the plaintext is returned once.

    Layout under ``prefix``: ``h:<key hash>`` a hash (id, address, limit, monthly, label,
    created, expires, models, kind, revoked; a field an older record lacks takes its default),
    ``id:<key id>`` the key hash, ``a:<address>`` a sorted set of the wallet's key ids by
    creation time. Nothing is cached: every `resolve` is one ``HGETALL``, so a revocation
    anywhere is seen by the next request everywhere. A Redis that does not answer within the
    client's timeouts (twice: the second attempt on a fresh connection) raises
    `KeyStoreUnavailable`, so a request by key fails closed.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "venice:keys:",
        pepper: bytes | None = None,
        clock: Clock = time.time,
    ) -> None:
        import redis as redis_module  # optional dependency: pip install "venice-sdk[redis]"

        self.client = client
        self.prefix = prefix
        self._pepper = pepper
        self._clock = clock
        # (a read-only replica, in a failover: lookups work, issuing does not)
        self._errors = unavailable_errors(redis_module)

    @classmethod
    def from_url(cls, url: str, *, socket_timeout: float = 0.5, **options: Any) -> RedisKeyStore:
        """Connect with the ``redis`` package, with connect and read timeouts bounded."""
        import redis as redis_module

        client = redis_module.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=None,  # _call owns the retry
        )
        return cls(client, **options)

    def __repr__(self) -> str:
        return f"RedisKeyStore(prefix={self.prefix!r}, peppered={self._pepper is not None})"

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """``call`` (idempotent), tried twice: a restarted server's first answer is a dropped
        pooled connection, which the second attempt replaces."""
        for attempt in (1, 2):
            try:
                return call()
            except self._errors as exc:
                if attempt == 2:
                    how = "does not answer"
                    if type(exc).__name__ == "ReadOnlyError":
                        how = "refuses writes (a read-only replica)"
                    elif type(exc).__name__ in ("MasterDownError", "TryAgainError",
                                                "ClusterDownError"):  # fmt: skip
                        how = "refuses for now"
                    raise KeyStoreUnavailable(
                        f"the key store (redis) {how} while {what}: {type(exc).__name__}"
                    ) from exc
        raise AssertionError("unreachable")

    def _record(self, fields: dict[Any, Any]) -> KeyRecord:
        data = {_text(k): _text(v) for k, v in fields.items()}
        limit, monthly, expires = data.get("limit"), data.get("monthly"), data.get("expires")
        return KeyRecord(  # a field missing from an older record takes its default
            key_id=data["id"],
            address=data["address"],
            daily_limit_micros=int(limit) if limit else None,
            revoked="revoked" in data,
            label=data.get("label"),
            created_at=float(data["created"]),
            monthly_limit_micros=int(monthly) if monthly else None,
            expires_at=float(expires) if expires else None,
            models=load_models(data.get("models")),
            kind=data.get("kind") or "inference",
        )

    def _insert(self, key: str, record: KeyRecord) -> None:
        digest = key_hash(key, self._pepper)
        fields: dict[Any, Any] = {
            "id": record.key_id,
            "address": record.address,
            "created": repr(record.created_at),
            "kind": record.kind,
            **_budget_fields(record.daily_limit_micros, record.monthly_limit_micros),
        }
        if record.label is not None:
            fields["label"] = record.label
        if record.expires_at is not None:
            fields["expires"] = repr(record.expires_at)
        if record.models is not None:
            fields["models"] = dump_models(record.models)

        def write() -> None:  # one MULTI/EXEC; writing the same values again is harmless
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.prefix + "h:" + digest, mapping=fields)
            pipe.set(self.prefix + "id:" + record.key_id, digest)
            pipe.zadd(
                self.prefix + "a:" + record.address.lower(), {record.key_id: record.created_at}
            )
            pipe.execute()

        self._call("issuing a key", write)

    def _by_key(self, key: str) -> tuple[str, dict[Any, Any]] | None:
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        digest = key_hash(key, self._pepper)
        fields = self._call(
            "resolving a key", lambda: self.client.hgetall(self.prefix + "h:" + digest)
        )
        return (digest, fields) if fields else None

    def _lookup(self, key: str) -> KeyRecord | None:
        found = self._by_key(key)
        return None if found is None else self._record(found[1])

    def lookup_command(self, key: str) -> tuple[str, str] | None:
        """The one command that reads a presented key's record (None: not a key, so not
        known), for a caller sending it on a connection of its own (the gateway's event
        loop); its reply goes to `from_reply`."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
            return None
        return ("HGETALL", self.prefix + "h:" + key_hash(key, self._pepper))

    def from_reply(self, reply: Any) -> KeyRecord:
        """The record of `lookup_command`'s reply (a flat list of fields and values, or a
        dict), checked as `resolve` checks it."""
        if isinstance(reply, list):
            reply = dict(zip(reply[::2], reply[1::2], strict=True))
        return self.usable(self._record(reply) if reply else None)

    def _digest(self, key_id: str) -> str:
        raw = None
        if isinstance(key_id, str) and len(key_id) <= 64:
            raw = self._call("finding a key", lambda: self.client.get(self.prefix + "id:" + key_id))
        if raw is None:
            raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        return _text(raw)

    def get(self, key_id: str) -> KeyRecord:
        name = self.prefix + "h:" + self._digest(key_id)
        fields = self._call("reading a key", lambda: self.client.hgetall(name))
        if not fields:
            raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        return self._record(fields)

    def _set_budgets(self, key_id: str, daily: int | None, monthly: int | None) -> KeyRecord:
        name = self.prefix + "h:" + self._digest(key_id)

        def write() -> Any:  # one MULTI/EXEC, on an existing record only
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(name, mapping=_budget_fields(daily, monthly))
            pipe.hgetall(name)
            return pipe.execute()[1]

        return self._record(self._call("changing a key's budgets", write))

    def revoke(self, key_id_or_key: str) -> KeyRecord:
        if not isinstance(key_id_or_key, str):
            raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        digest: str | None
        if key_id_or_key.startswith(KEY_PREFIX):
            found = self._by_key(key_id_or_key)
            digest = None if found is None else found[0]
            if digest is None:
                raise AuthError(Reason.UNKNOWN_KEY, "no such API key")
        else:
            digest = self._digest(key_id_or_key)
        name = self.prefix + "h:" + digest

        def mark() -> Any:  # HSETNX: the first revocation's time stays (idempotent)
            pipe = self.client.pipeline(transaction=True)
            pipe.hsetnx(name, "revoked", repr(self._clock()))
            pipe.hgetall(name)
            return pipe.execute()[1]

        return self._record(self._call("revoking a key", mark))

    def list(self, address: str) -> builtins.list[KeyRecord]:
        checksummed = normalize_address(address)

        def read() -> builtins.list[dict[Any, Any]]:
            ids = self.client.zrange(self.prefix + "a:" + checksummed.lower(), 0, -1)
            digests = self.client.mget([self.prefix + "id:" + _text(i) for i in ids]) if ids else []
            pipe = self.client.pipeline(transaction=False)
            for digest in digests:
                pipe.hgetall(self.prefix + "h:" + _text(digest))
            return [f for f in pipe.execute() if f] if digests else []

        return [self._record(fields) for fields in self._call("listing keys", read)]

    def ping(self) -> None:
        self._call("pinging", self.client.ping)
