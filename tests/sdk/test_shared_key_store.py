"""Issue 13, item 6: with --redis-url the API keys live in Redis (`RedisKeyStore`), so every
replica sees a new key or a revocation at once. Before, keys stayed in a per-host SQLite file
even with --redis-url: a key issued on one replica was `unknown_key` on the next. Two real
sidecars on one Redis, with a real wallet signature; and the store on its own."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.support.sdk import NO_REDIS, FakeClock
from tests.support.sidecars import Sidecar
from venice_sdk.auth import (
    ApiKeyStore,
    AuthError,
    KeyStore,
    KeyStoreUnavailable,
    RedisKeyStore,
)
from venice_sdk.ledger import MAX_AMOUNT

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)

WALLET = "0x" + "ab" * 20


@pytest.fixture
def store(redis_url: str, clock: FakeClock) -> RedisKeyStore:
    return RedisKeyStore.from_url(redis_url, pepper=b"pepper", clock=clock)


def test_redis_key_store__issue_resolve_revoke_list(
    store: RedisKeyStore, redis_url: str, clock: FakeClock
) -> None:
    assert isinstance(store, KeyStore)
    first = store.issue(WALLET, True, daily_limit_micros=5_000, label="laptop")
    clock.now += 1
    second = store.issue(WALLET.upper().replace("0X", "0x"), lambda a: True)
    record = store.resolve(first.key)
    assert record == first.record and record.address == first.record.address
    assert record.daily_limit_micros == 5_000 and record.label == "laptop"
    assert store.resolve(second.key).daily_limit_micros is None
    # Another replica (another client, same Redis and pepper) sees the key at once.
    replica = RedisKeyStore.from_url(redis_url, pepper=b"pepper")
    assert replica.resolve(first.key).key_id == first.key_id
    assert replica.revoke(first.key_id).revoked
    with pytest.raises(AuthError) as info:
        store.resolve(first.key)
    assert info.value.code == "key_revoked"
    assert store.revoke(first.key).revoked  # idempotent, by the key itself
    assert [r.key_id for r in store.list(WALLET)] == [first.key_id, second.key_id]
    assert [r.revoked for r in store.list(WALLET)] == [True, False]
    # Only a hash is stored: the plaintext key is nowhere in Redis.
    dump = b"".join(store.client.dump(k) or b"" for k in store.client.keys(store.prefix + "*"))
    assert first.key.encode() not in dump and second.key.encode() not in dump
    # Another pepper does not find it.
    with pytest.raises(AuthError) as info:
        RedisKeyStore.from_url(redis_url, pepper=b"other").resolve(second.key)
    assert info.value.code == "unknown_key"


def test_redis_key_store__refusals_and_bounds(store: RedisKeyStore) -> None:
    for bad, code in (("vvk_nope", "unknown_key"), ("0x12", "unknown_key"), ("", "unknown_key")):
        with pytest.raises(AuthError) as info:
            store.resolve(bad)
        assert info.value.code == code
    with pytest.raises(AuthError) as info:
        store.revoke("key_0000")
    assert info.value.code == "unknown_key"
    with pytest.raises(AuthError) as info:
        store.issue(WALLET, False)
    assert info.value.code == "no_stake"
    with pytest.raises(AuthError) as info:
        store.issue("0x12", True)
    assert info.value.code == "malformed_address"
    for limit in (-1, MAX_AMOUNT + 1, 2**63 - 1, True, "10"):
        with pytest.raises(ValueError, match="daily_limit_micros"):
            store.issue(WALLET, True, daily_limit_micros=limit)  # type: ignore[arg-type]
    for label in ("x" * 201, "two\nlines"):
        with pytest.raises(ValueError, match="label"):
            store.issue(WALLET, True, label=label)
    assert store.issue(WALLET, True, daily_limit_micros=MAX_AMOUNT, label="x" * 200)


def test_redis_key_store__down_fails_closed_with_its_own_code() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    store = RedisKeyStore.from_url(url)
    for call in (lambda: store.resolve("vvk_x"), store.ping, lambda: store.issue(WALLET, True)):
        with pytest.raises(KeyStoreUnavailable) as info:
            call()
        assert info.value.code == "key_store_unavailable"


def test_sqlite_key_store__is_a_key_store_too(tmp_path: Path) -> None:
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    assert isinstance(keys, KeyStore)
    keys.ping()


# --- two real sidecars on one Redis ------------------------------------------------------------


def issue_key(url: str, account: Any) -> dict[str, Any]:
    challenge = httpx.post(url + "/v1/auth/challenge", json={"address": account.address}).json()
    signature = account.sign_message(encode_defunct(text=challenge["message"])).signature.hex()
    r = httpx.post(url + "/v1/auth/keys", json={"address": account.address, "signature": signature})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("key_store", ["redis", "sqlite"])
def test_two_sidecars_on_one_redis__keys_and_revocations_seen_by_both(
    tmp_path: Path, manifest: Path, chain: Any, redis_url: str, staker: Any, key_store: str
) -> None:
    """A key issued on A works on B at once; revoked on B, it is refused on A at once. With
    --key-store sqlite (what --redis-url gave before), B does not know A's key: the bug."""
    rpc = str(chain.provider.http_uri)
    options = ("--redis-url", redis_url, "--key-store", key_store)
    a = Sidecar(manifest, rpc, tmp_path / "a", *options)
    b = Sidecar(manifest, rpc, tmp_path / "b", *options)
    a.start()
    b.start()
    try:
        account = Account.from_key(staker.private_key)
        issued = issue_key(a.url, account)
        body = {"who": issued["key"], "model": "small", "output_tokens": 4_000}
        on_a = httpx.post(a.url + "/v1/authorize", json=body).json()
        assert on_a["allowed"] and on_a["address"] == account.address
        on_b = httpx.post(b.url + "/v1/authorize", json=body).json()
        if key_store == "sqlite":
            assert not on_b["allowed"] and on_b["reason"] == "unknown_key"
            return
        assert on_b["allowed"] and on_b["address"] == account.address, on_b
        # One ledger: B's answer counts A's debit.
        assert on_b["spent_micros"] == on_a["spent_micros"] + on_b["cost_micros"]
        revoked = httpx.delete(
            b.url + "/v1/auth/keys", headers={"Authorization": f"Bearer {issued['key']}"}
        )
        assert revoked.status_code == 200 and revoked.json()["revoked"] == issued["key_id"]
        again = httpx.post(a.url + "/v1/authorize", json=body).json()
        assert not again["allowed"] and again["reason"] == "key_revoked"
        # A challenge issued by B is verified by A (challenges were shared already).
        issued_via_b_and_a = issue_key(b.url, account)
        assert httpx.post(
            a.url + "/v1/authorize", json={**body, "who": issued_via_b_and_a["key"]}
        ).json()["allowed"]
    finally:
        a.stop()
        b.stop()
