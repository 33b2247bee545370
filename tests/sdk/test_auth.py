"""venice_sdk.auth with real signatures: wallet challenges (EIP-191), Sign-In with Ethereum
(EIP-4361) and wallet-bound API keys. No chain needed:

    python -m pytest -p no:ape_test tests/sdk/test_auth.py -q

The Redis rows use the redis-server the test session starts (tests/sdk/conftest.py), or
VENICE_TEST_REDIS_URL when set.

Over 500 lines on purpose: sign-in (challenges, SIWE) and API keys are one attack surface,
tested on both stores with the same signed fixtures.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from venice_sdk.auth import (
    CHALLENGE_TTL_SECONDS,
    ApiKeyStore,
    AuthError,
    ChallengeStore,
    InMemoryChallengeStore,
    RedisChallengeStore,
    SiweVerifier,
    SQLiteChallengeStore,
    WalletChallenges,
)

T0 = 1_750_000_000.0
DOMAIN = "api.venice.test"
URI = "https://api.venice.test/login"
CHAIN = 8453


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sign(account: Any, text: str) -> str:
    signature: bytes = bytes(account.sign_message(encode_defunct(text=text)).signature)
    return "0x" + signature.hex()


def refused(code: str, fn: Callable[..., Any], *args: Any) -> AuthError:
    with pytest.raises(AuthError) as info:
        fn(*args)
    assert info.value.code == code, str(info.value)
    assert info.value.message
    return info.value


def _redis_store() -> ChallengeStore | None:
    url = os.environ.get("VENICE_TEST_REDIS_URL")
    if not url:
        return None
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except Exception:
        return None
    return RedisChallengeStore(client, prefix=f"venice-test:{uuid.uuid4().hex}:")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> ChallengeStore:
    if request.param == "memory":
        return InMemoryChallengeStore(clock)
    if request.param == "sqlite":
        return SQLiteChallengeStore(tmp_path / "challenges.sqlite3", clock)
    redis_store = _redis_store()
    if redis_store is None:
        pytest.skip("no Redis at VENICE_TEST_REDIS_URL")
    return redis_store


@pytest.fixture
def wallet() -> Any:
    return Account.create()


@pytest.fixture
def other() -> Any:
    return Account.create()


def test_auth_error_pickles() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(AuthError("bad_signature", "not yours")))
    assert (err.code, err.message, str(err)) == (
        "bad_signature",
        "not yours",
        "bad_signature: not yours",
    )


# --------------------------------------------------------------------------- wallet challenges


@pytest.fixture
def challenges(store: ChallengeStore, clock: FakeClock) -> WalletChallenges:
    return WalletChallenges(DOMAIN, store, clock=clock)


def test_challenge_text_and_nonce(challenges: WalletChallenges, wallet: Any) -> None:
    ch = challenges.issue_challenge(wallet.address.lower())
    assert ch.address == wallet.address
    assert len(ch.nonce) == 32 and int(ch.nonce, 16) >= 0  # 128 bits of hex
    assert ch.expires_at - ch.issued_at == CHALLENGE_TTL_SECONDS
    for part in (DOMAIN, wallet.address, ch.nonce, "2025-06-15T15:06:40Z", "2025-06-15T15:21:40Z"):
        assert part in ch.message
    assert challenges.issue_challenge(wallet.address).nonce != ch.nonce


def test_challenge_happy_path(challenges: WalletChallenges, wallet: Any) -> None:
    ch = challenges.issue_challenge(wallet.address)
    # the claimed address is compared case-insensitively; the answer is checksummed
    assert challenges.verify_challenge(wallet.address.lower(), sign(wallet, ch.message)) == (
        wallet.address
    )


def test_challenge_signature_as_bytes(challenges: WalletChallenges, wallet: Any) -> None:
    ch = challenges.issue_challenge(wallet.address)
    sig = wallet.sign_message(encode_defunct(text=ch.message)).signature
    assert challenges.verify_challenge(wallet.address, bytes(sig)) == wallet.address


def test_challenge_replay_refused(challenges: WalletChallenges, wallet: Any) -> None:
    ch = challenges.issue_challenge(wallet.address)
    sig = sign(wallet, ch.message)
    challenges.verify_challenge(wallet.address, sig)
    refused("nonce_replayed", challenges.verify_challenge, wallet.address, sig)


def test_challenge_expires_after_15_minutes(
    challenges: WalletChallenges, wallet: Any, clock: FakeClock
) -> None:
    ch = challenges.issue_challenge(wallet.address)
    sig = sign(wallet, ch.message)
    clock.advance(CHALLENGE_TTL_SECONDS)
    refused("challenge_expired", challenges.verify_challenge, wallet.address, sig)


def test_challenge_valid_just_before_expiry(
    challenges: WalletChallenges, wallet: Any, clock: FakeClock
) -> None:
    ch = challenges.issue_challenge(wallet.address)
    clock.advance(CHALLENGE_TTL_SECONDS - 1)
    assert challenges.verify_challenge(wallet.address, sign(wallet, ch.message)) == wallet.address


def test_challenge_ttl_is_configurable(
    store: ChallengeStore, clock: FakeClock, wallet: Any
) -> None:
    short = WalletChallenges(DOMAIN, store, ttl_seconds=60, clock=clock)
    ch = short.issue_challenge(wallet.address)
    clock.advance(61)
    refused("challenge_expired", short.verify_challenge, wallet.address, sign(wallet, ch.message))


def test_challenge_signed_by_another_key(
    challenges: WalletChallenges, wallet: Any, other: Any
) -> None:
    ch = challenges.issue_challenge(wallet.address)
    refused("bad_signature", challenges.verify_challenge, wallet.address, sign(other, ch.message))
    # a failed attempt does not burn the challenge: the owner can still use it
    assert challenges.verify_challenge(wallet.address, sign(wallet, ch.message)) == wallet.address


def test_challenge_tampered_text(challenges: WalletChallenges, wallet: Any) -> None:
    ch = challenges.issue_challenge(wallet.address)
    tampered = ch.message.replace(ch.nonce, "0" * 32)
    refused("bad_signature", challenges.verify_challenge, wallet.address, sign(wallet, tampered))


@pytest.mark.parametrize("sig", ["0x1234", "not hex at all", "0x" + "00" * 65, ""])
def test_challenge_garbage_signature(challenges: WalletChallenges, wallet: Any, sig: str) -> None:
    challenges.issue_challenge(wallet.address)
    refused("bad_signature", challenges.verify_challenge, wallet.address, sig)


@pytest.mark.parametrize(
    "address", ["", "0x123", "hello", "0x" + "g" * 40, "00" * 20, "0x" + "a" * 41]
)
def test_malformed_address(challenges: WalletChallenges, wallet: Any, address: str) -> None:
    refused("malformed_address", challenges.issue_challenge, address)
    refused("malformed_address", challenges.verify_challenge, address, "0x" + "11" * 65)


def test_no_challenge_issued(challenges: WalletChallenges, wallet: Any) -> None:
    refused("unknown_challenge", challenges.verify_challenge, wallet.address, "0x" + "11" * 65)


def test_new_challenge_supersedes_old(challenges: WalletChallenges, wallet: Any) -> None:
    first = challenges.issue_challenge(wallet.address)
    second = challenges.issue_challenge(wallet.address)
    refused(
        "challenge_superseded",
        challenges.verify_challenge,
        wallet.address,
        sign(wallet, first.message),
    )
    assert challenges.verify_challenge(wallet.address, sign(wallet, second.message))


def test_challenge_for_one_wallet_not_usable_by_another(
    challenges: WalletChallenges, wallet: Any, other: Any
) -> None:
    ch = challenges.issue_challenge(wallet.address)
    challenges.issue_challenge(other.address)
    # other signs wallet's challenge text and claims to be other: its own challenge differs
    refused("bad_signature", challenges.verify_challenge, other.address, sign(other, ch.message))


def test_sqlite_challenges_are_durable(tmp_path: Path, clock: FakeClock, wallet: Any) -> None:
    path = tmp_path / "c.sqlite3"
    ch = WalletChallenges(DOMAIN, SQLiteChallengeStore(path, clock), clock=clock).issue_challenge(
        wallet.address
    )
    again = WalletChallenges(DOMAIN, SQLiteChallengeStore(path, clock), clock=clock)
    assert again.verify_challenge(wallet.address, sign(wallet, ch.message)) == wallet.address


# --------------------------------------------------------------------------- stores


def test_store_take_is_single_use(store: ChallengeStore) -> None:
    assert store.put("k", "v", 60)
    assert not store.put("k", "w", 60, only_if_absent=True)
    assert store.get("k") == "v"
    assert store.take("k") == "v"
    assert store.take("k") is None
    assert store.get("k") is None
    assert store.put("k", "w", 60, only_if_absent=True)


def test_local_store_forgets_after_ttl(tmp_path: Path, clock: FakeClock) -> None:
    for s in (InMemoryChallengeStore(clock), SQLiteChallengeStore(tmp_path / "s.db", clock)):
        s.put("k", "v", 10)
        clock.advance(10)
        assert s.get("k") is None and s.take("k") is None
        assert s.put("k", "w", 10, only_if_absent=True)


# --------------------------------------------------------------------------- SIWE


@pytest.fixture
def siwe(store: ChallengeStore, clock: FakeClock) -> SiweVerifier:
    return SiweVerifier(DOMAIN, URI, chain_id=CHAIN, store=store, clock=clock)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def siwe_text(address: str, nonce: str, **fields: Any) -> str:
    values: dict[str, Any] = {
        "domain": DOMAIN,
        "address": address,
        "uri": URI,
        "version": "1",
        "chain_id": CHAIN,
        "issued_at": iso(T0),
        "nonce": nonce,
        "statement": "Sign in to the Venice dashboard.",
    }
    values.update(fields)
    text: str = SiweMessage(**values).prepare_message()
    return text


def test_siwe_happy_path(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce(), expiration_time=iso(T0 + 600))
    assert siwe.verify(text, sign(wallet, text)) == wallet.address


def test_siwe_minimal_message_without_statement(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce(), statement=None)
    assert siwe.verify(text, sign(wallet, text)) == wallet.address


def test_siwe_any_uri_when_not_configured(
    store: ChallengeStore, clock: FakeClock, wallet: Any
) -> None:
    verifier = SiweVerifier(DOMAIN, chain_id=CHAIN, store=store, clock=clock)
    text = siwe_text(wallet.address, verifier.nonce(), uri="https://elsewhere.test/x")
    assert verifier.verify(text, sign(wallet, text)) == wallet.address


def test_siwe_nonce_is_single_use(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce())
    sig = sign(wallet, text)
    siwe.verify(text, sig)
    refused("nonce_replayed", siwe.verify, text, sig)


def test_siwe_nonce_never_issued(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, "abcdef0123456789")
    refused("unknown_challenge", siwe.verify, text, sign(wallet, text))


def test_siwe_nonce_expires(siwe: SiweVerifier, wallet: Any, clock: FakeClock) -> None:
    text = siwe_text(wallet.address, siwe.nonce())
    clock.advance(CHALLENGE_TTL_SECONDS + 1)
    refused("challenge_expired", siwe.verify, text, sign(wallet, text))


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"domain": "evil.test"}, "wrong_domain"),
        ({"uri": "https://api.venice.test/other"}, "wrong_uri"),
        ({"chain_id": 1}, "wrong_chain"),
        ({"not_before": iso(T0 + 120)}, "not_yet_valid"),
        ({"issued_at": iso(T0 + 3600)}, "not_yet_valid"),
        ({"expiration_time": iso(T0 - 1)}, "expired"),
        ({"expiration_time": iso(T0)}, "expired"),
    ],
)
def test_siwe_refusals(siwe: SiweVerifier, wallet: Any, fields: dict[str, Any], code: str) -> None:
    text = siwe_text(wallet.address, siwe.nonce(), **fields)
    refused(code, siwe.verify, text, sign(wallet, text))


def test_siwe_small_clock_skew_allowed(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce(), issued_at=iso(T0 + 30))
    assert siwe.verify(text, sign(wallet, text)) == wallet.address


def test_siwe_not_before_reached(siwe: SiweVerifier, wallet: Any, clock: FakeClock) -> None:
    text = siwe_text(wallet.address, siwe.nonce(), not_before=iso(T0 + 120))
    sig = sign(wallet, text)
    refused("not_yet_valid", siwe.verify, text, sig)
    clock.advance(120)
    assert siwe.verify(text, sig) == wallet.address


def test_siwe_signed_by_another_key(siwe: SiweVerifier, wallet: Any, other: Any) -> None:
    nonce = siwe.nonce()
    text = siwe_text(wallet.address, nonce)
    refused("bad_signature", siwe.verify, text, sign(other, text))
    # the refusal did not burn the nonce
    assert siwe.verify(text, sign(wallet, text)) == wallet.address


def test_siwe_message_for_another_address(siwe: SiweVerifier, wallet: Any, other: Any) -> None:
    # other signs a message naming wallet's address
    text = siwe_text(wallet.address, siwe.nonce())
    refused("bad_signature", siwe.verify, text, sign(other, text))


def test_siwe_tampered_message(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce())
    sig = sign(wallet, text)
    tampered = text.replace("Sign in to the Venice dashboard.", "Sign in to something else.")
    refused("bad_signature", siwe.verify, tampered, sig)


@pytest.mark.parametrize("mangle", ["garbage", "lowercase_address", "empty", "bad_time"])
def test_siwe_malformed_message(siwe: SiweVerifier, wallet: Any, mangle: str) -> None:
    text = siwe_text(wallet.address, siwe.nonce())
    if mangle == "garbage":
        text = "hello, sign me"
    elif mangle == "lowercase_address":
        text = text.replace(wallet.address, wallet.address.lower())
    elif mangle == "empty":
        text = ""
    else:
        text = text.replace(iso(T0), "yesterday")
    refused("malformed_message", siwe.verify, text, sign(wallet, text))


def test_siwe_garbage_signature(siwe: SiweVerifier, wallet: Any) -> None:
    text = siwe_text(wallet.address, siwe.nonce())
    refused("bad_signature", siwe.verify, text, "0xdeadbeef")


def test_siwe_nonces_are_unique_and_long(siwe: SiweVerifier) -> None:
    nonces = {siwe.nonce() for _ in range(50)}
    assert len(nonces) == 50 and all(len(n) == 32 and n.isalnum() for n in nonces)


# --------------------------------------------------------------------------- API keys


@pytest.fixture
def keys(tmp_path: Path, clock: FakeClock) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "keys.sqlite3", clock=clock)


def test_key_refused_without_stake(keys: ApiKeyStore, wallet: Any) -> None:
    seen: list[str] = []

    def no_stake(address: str) -> bool:
        seen.append(address)
        return False

    refused("no_stake", keys.issue, wallet.address.lower(), no_stake)
    assert seen == [wallet.address]  # the check gets the checksummed address
    refused("no_stake", keys.issue, wallet.address, False)
    assert keys.list(wallet.address) == []


def test_key_issue_resolve_list(keys: ApiKeyStore, wallet: Any) -> None:
    issued = keys.issue(wallet.address, lambda _a: True, daily_limit_micros=2_500_000, label="cli")
    assert issued.key.startswith("vvk_") and len(issued.key) >= 4 + 43
    assert issued.key not in repr(issued)
    record = keys.resolve(issued.key)
    assert record == issued.record
    assert (record.address, record.daily_limit_micros, record.revoked, record.label) == (
        wallet.address,
        2_500_000,
        False,
        "cli",
    )
    second = keys.issue(wallet.address, True)
    assert second.key != issued.key and second.record.daily_limit_micros is None
    assert [r.key_id for r in keys.list(wallet.address.lower())] == [
        issued.key_id,
        second.key_id,
    ]


def test_key_is_stored_hashed(tmp_path: Path, keys: ApiKeyStore, wallet: Any) -> None:
    issued = keys.issue(wallet.address, True)
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("keys"))
    assert issued.key.encode() not in blob
    assert issued.key.encode()[4:20] not in blob
    with sqlite3.connect(tmp_path / "keys.sqlite3") as db:
        (stored,) = db.execute("SELECT key_hash FROM api_keys").fetchone()
    assert stored == hashlib.sha256(issued.key.encode()).hexdigest()


def test_key_with_pepper(tmp_path: Path, wallet: Any) -> None:
    peppered = ApiKeyStore(tmp_path / "k.db", pepper=b"server secret")
    issued = peppered.issue(wallet.address, True)
    assert peppered.resolve(issued.key).address == wallet.address
    # same file, no pepper (or a different one): the hash does not match
    refused("unknown_key", ApiKeyStore(tmp_path / "k.db").resolve, issued.key)
    refused("unknown_key", ApiKeyStore(tmp_path / "k.db", pepper=b"other").resolve, issued.key)


def test_keys_are_durable(tmp_path: Path, keys: ApiKeyStore, wallet: Any) -> None:
    issued = keys.issue(wallet.address, True, 7)
    assert ApiKeyStore(tmp_path / "keys.sqlite3").resolve(issued.key).daily_limit_micros == 7


def test_revoke_by_id_then_resolve_fails(keys: ApiKeyStore, wallet: Any) -> None:
    issued = keys.issue(wallet.address, True)
    keep = keys.issue(wallet.address, True)
    assert keys.revoke(issued.key_id).revoked
    refused("key_revoked", keys.resolve, issued.key)
    assert keys.resolve(keep.key).key_id == keep.key_id
    assert [r.revoked for r in keys.list(wallet.address)] == [True, False]
    assert keys.revoke(issued.key_id).revoked  # idempotent


def test_revoke_by_key(keys: ApiKeyStore, wallet: Any) -> None:
    issued = keys.issue(wallet.address, True)
    keys.revoke(issued.key)
    refused("key_revoked", keys.resolve, issued.key)


@pytest.mark.parametrize("key", ["", "vvk_", "vvk_nope", "sk-something", "key_123"])
def test_unknown_key(keys: ApiKeyStore, wallet: Any, key: str) -> None:
    keys.issue(wallet.address, True)
    err = refused("unknown_key", keys.resolve, key)
    if key:
        assert key not in str(err) or key == "vvk_"
    refused("unknown_key", keys.revoke, key or "key_missing")


@pytest.mark.parametrize("limit", [-1, True, 1.5])
def test_key_limit_must_be_micro_usd_integer(keys: ApiKeyStore, wallet: Any, limit: Any) -> None:
    with pytest.raises(ValueError):
        keys.issue(wallet.address, True, limit)


def test_key_malformed_address(keys: ApiKeyStore) -> None:
    refused("malformed_address", keys.issue, "0xnope", True)
    refused("malformed_address", keys.list, "nope")


# --------------------------------------------------------------------------- races


def _race_verify(
    db: str, address: str, sig: str, barrier: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    challenges = WalletChallenges(DOMAIN, SQLiteChallengeStore(db, lambda: T0), clock=lambda: T0)
    barrier.wait()
    try:
        results.put(("ok", challenges.verify_challenge(address, sig)))
    except AuthError as exc:
        results.put(("refused", exc.code))


def _race_take(db: str, barrier: Any, results: Any) -> None:  # pragma: no cover - child
    store = SQLiteChallengeStore(db)
    barrier.wait()
    results.put(store.take("contested"))


@pytest.fixture
def mp() -> Iterator[Any]:
    yield multiprocessing.get_context("fork")


@pytest.mark.parametrize("round_", range(3))
def test_two_processes_race_for_one_challenge(
    tmp_path: Path, wallet: Any, mp: Any, round_: int
) -> None:
    db = str(tmp_path / "race.sqlite3")
    ch = WalletChallenges(
        DOMAIN, SQLiteChallengeStore(db, lambda: T0), clock=lambda: T0
    ).issue_challenge(wallet.address)
    sig = sign(wallet, ch.message)
    n = 2 if round_ == 0 else 6
    barrier, results = mp.Barrier(n), mp.Queue()
    procs = [
        mp.Process(target=_race_verify, args=(db, wallet.address, sig, barrier, results))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert outcomes.count(("ok", wallet.address)) == 1, outcomes
    assert [o for o in outcomes if o[0] == "refused"] == [("refused", "nonce_replayed")] * (n - 1)


def test_many_processes_race_for_one_key(tmp_path: Path, mp: Any) -> None:
    db = str(tmp_path / "take.sqlite3")
    for _ in range(5):
        assert SQLiteChallengeStore(db).put("contested", "prize", 60)
        barrier, results = mp.Barrier(8), mp.Queue()
        procs = [mp.Process(target=_race_take, args=(db, barrier, results)) for _ in range(8)]
        for p in procs:
            p.start()
        got = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert sorted(got, key=str) == [None] * 7 + ["prize"]


def _race_take_redis(url: str, prefix: str, barrier: Any, results: Any) -> None:  # pragma: no cover
    store = RedisChallengeStore.from_url(url, prefix=prefix)
    barrier.wait()
    results.put(store.take("contested"))


def test_redis_processes_race_for_one_key(mp: Any) -> None:
    if _redis_store() is None:
        pytest.skip("no Redis at VENICE_TEST_REDIS_URL")
    url = os.environ["VENICE_TEST_REDIS_URL"]
    prefix = f"venice-test:{uuid.uuid4().hex}:"
    assert RedisChallengeStore.from_url(url, prefix=prefix).put("contested", "prize", 60)
    barrier, results = mp.Barrier(8), mp.Queue()
    procs = [
        mp.Process(target=_race_take_redis, args=(url, prefix, barrier, results)) for _ in range(8)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(got, key=str) == [None] * 7 + ["prize"]


def test_redis_store_with_decoded_responses() -> None:
    if _redis_store() is None:
        pytest.skip("no Redis at VENICE_TEST_REDIS_URL")
    import redis

    client = redis.Redis.from_url(os.environ["VENICE_TEST_REDIS_URL"], decode_responses=True)
    store = RedisChallengeStore(client, prefix=f"venice-test:{uuid.uuid4().hex}:")
    assert store.put("k", "v", 0.2)  # sub-second TTLs round up to one second
    assert store.get("k") == "v" and store.take("k") == "v" and store.take("k") is None
