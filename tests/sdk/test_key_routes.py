"""The sidecar's key management with real signatures (eth-account keys, SIWE and the signed
challenge), on both key stores: a wallet's admin session lists its keys (never a key), revokes
one and changes a key's budgets; an inference key cannot; wallet A cannot see, revoke or change
wallet B's keys. No chain: the wallets' stake comes from `FakeEntitlements`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from siwe import SiweMessage

from tests.support.fake_gate import PRICES, FakeEntitlements
from tests.support.sdk import FakeClock
from venice_sdk.auth import (
    InMemoryChallengeStore,
    KeyStore,
    SiweVerifier,
    WalletChallenges,
)
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import CreditLedger
from venice_sdk.pricing import PriceBook
from venice_sdk.service import SESSION_SECONDS, create_app

DOMAIN, URI, CHAIN = "api.venice.test", "https://api.venice.test/login", 8453


def sign(account: Any, text: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


@pytest.fixture
def wallets() -> tuple[Any, Any]:
    return Account.create(), Account.create()


@pytest.fixture
def keys(key_store: KeyStore) -> KeyStore:
    return key_store


@pytest.fixture
def http(
    ledger: CreditLedger, keys: KeyStore, clock: FakeClock, wallets: tuple[Any, Any]
) -> TestClient:
    credits = FakeEntitlements({w.address: 1_000_000 for w in wallets})
    gate = Gatekeeper(credits, ledger, PriceBook.from_dict(PRICES), keys)  # type: ignore[arg-type]
    store = InMemoryChallengeStore(clock=clock)
    challenges = WalletChallenges(DOMAIN, store, clock=clock)
    siwe = SiweVerifier(DOMAIN, URI, chain_id=CHAIN, store=store, clock=clock)
    return TestClient(create_app(gate, challenges, siwe, keys, authorize_batch=1))


def sign_in(http: TestClient, wallet: Any, clock: FakeClock) -> str:
    """A SIWE sign-in: the session's admin key."""
    nonce = http.get("/v1/auth/siwe/nonce").json()["nonce"]
    issued = datetime.fromtimestamp(clock(), UTC).isoformat(timespec="seconds")
    text = SiweMessage(
        domain=DOMAIN, address=wallet.address, uri=URI, version="1", chain_id=CHAIN,
        issued_at=issued.replace("+00:00", "Z"), nonce=nonce,
    ).prepare_message()  # fmt: skip
    answer = http.post("/v1/auth/siwe", json={"message": text, "signature": sign(wallet, text)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "admin"
    return str(answer.json()["key"])


def issue(http: TestClient, wallet: Any, **fields: Any) -> dict[str, Any]:
    """A key issued by a signed challenge."""
    message = http.post("/v1/auth/challenge", json={"address": wallet.address}).json()["message"]
    body = {"address": wallet.address, "signature": sign(wallet, message), **fields}
    answer = http.post("/v1/auth/keys", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_a_wallet_manages_its_own_keys_only(
    http: TestClient, wallets: tuple[Any, Any], clock: FakeClock
) -> None:
    a, b = wallets
    a_session, b_session = sign_in(http, a, clock), sign_in(http, b, clock)
    a_key = issue(http, a, label="ci", models=["tiny"], monthly_limit_micros=900,
                  expires_at=int(clock()) + 3_600)  # fmt: skip
    b_key = issue(http, b)
    assert a_key["kind"] == "inference"

    listed = http.get("/v1/auth/keys", headers=bearer(a_session))
    assert listed.status_code == 200
    rows = listed.json()["keys"]
    assert {r["address"] for r in rows} == {a.address}
    assert {r["key_id"] for r in rows} >= {a_key["key_id"]}
    assert b_key["key_id"] not in {r["key_id"] for r in rows}
    assert a_key["key"] not in listed.text and a_session not in listed.text  # never a key
    mine = next(r for r in rows if r["key_id"] == a_key["key_id"])
    assert (mine["label"], mine["models"], mine["monthly_limit_micros"]) == ("ci", ["tiny"], 900)
    assert mine["expires_at"] == int(clock()) + 3_600 and mine["revoked"] is False

    # A cannot revoke or change B's key: the same 404 as a key that does not exist
    for path in (f"/v1/auth/keys/{b_key['key_id']}", "/v1/auth/keys/key_0000000000000000"):
        gone = http.delete(path, headers=bearer(a_session))
        assert (gone.status_code, gone.json()["code"]) == (404, "unknown_key")
        changed = http.put(path + "/budgets", headers=bearer(a_session),
                           json={"daily_limit_micros": 1, "monthly_limit_micros": 1})  # fmt: skip
        assert (changed.status_code, changed.json()["code"]) == (404, "unknown_key")
    assert http.post("/v1/authorize", json={"who": b_key["key"], "model": "tiny",
                                            "input_tokens": 5}).json()["allowed"]  # fmt: skip
    b_rows = http.get("/v1/auth/keys", headers=bearer(b_session)).json()["keys"]
    b_row = next(r for r in b_rows if r["key_id"] == b_key["key_id"])
    assert b_row["daily_limit_micros"] is None and b_row["revoked"] is False

    # A changes its key's budgets in place, then revokes it
    changed = http.put(f"/v1/auth/keys/{a_key['key_id']}/budgets", headers=bearer(a_session),
                       json={"daily_limit_micros": 4, "monthly_limit_micros": None})  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json()["daily_limit_micros"], changed.json()["monthly_limit_micros"]) == (
        4,
        None,
    )
    over = http.post("/v1/authorize", json={"who": a_key["key"], "model": "tiny",
                                            "input_tokens": 5})  # fmt: skip
    assert over.json()["reason"] == "key_limit_reached"
    revoked = http.delete(f"/v1/auth/keys/{a_key['key_id']}", headers=bearer(a_session))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    after = http.post("/v1/authorize", json={"who": a_key["key"], "model": "tiny"})
    assert after.json()["reason"] == "key_revoked"


def test_only_an_admin_key_manages_keys(
    http: TestClient, wallets: tuple[Any, Any], clock: FakeClock
) -> None:
    a, _ = wallets
    inference = issue(http, a)
    refused = http.get("/v1/auth/keys", headers=bearer(inference["key"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_key_required")
    revoke = http.delete(f"/v1/auth/keys/{inference['key_id']}", headers=bearer(inference["key"]))
    assert revoke.status_code == 403
    assert http.get("/v1/auth/keys").status_code == 401
    unknown = http.get("/v1/auth/keys", headers=bearer("vvk_nope"))
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unknown_key")
    # an admin key issued by a signed challenge works like a session
    admin = issue(http, a, kind="admin")
    assert http.get("/v1/auth/keys", headers=bearer(admin["key"])).status_code == 200
    # a session ends after SESSION_SECONDS
    session = sign_in(http, a, clock)
    clock.now += SESSION_SECONDS
    late = http.get("/v1/auth/keys", headers=bearer(session))
    assert (late.status_code, late.json()["code"]) == (401, "key_expired")


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "root"},
        {"models": []},
        {"expires_at": "tomorrow"},
        {"expires_at": 10**12},  # (past 9999-12-31: no date says it)
        {"monthly_limit_micros": True},
        {"monthly_limit_micros": -1},
    ],
)
def test_bad_issue_fields_are_4xx(
    http: TestClient, wallets: tuple[Any, Any], fields: dict[str, Any]
) -> None:
    a, _ = wallets
    message = http.post("/v1/auth/challenge", json={"address": a.address}).json()["message"]
    body = {"address": a.address, "signature": sign(a, message), **fields}
    assert http.post("/v1/auth/keys", json=body).status_code == 422


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"models": ["tiny", "gpt-4"]}, 400, "unknown_model"),
        ({"expires_at": 0}, 400, "bad_request"),
    ],
)
def test_an_issue_refused_for_its_fields_keeps_the_challenge(
    http: TestClient, wallets: tuple[Any, Any], clock: FakeClock, fields: dict[str, Any],
    status: int, code: str,
) -> None:  # fmt: skip
    """A key whose allowlist names a model the price book does not price would be refused on
    every request it was issued for, and one expiring at once on the first: both were issued.
    Now each is refused before the signed challenge is used up, so the wallet signs again only
    once it has fixed the fields."""
    a, _ = wallets
    message = http.post("/v1/auth/challenge", json={"address": a.address}).json()["message"]
    body = {"address": a.address, "signature": sign(a, message)}
    refused = http.post("/v1/auth/keys", json={**body, **fields})
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert "gpt-4" in refused.json()["message"] or code != "unknown_model"
    issued = http.post("/v1/auth/keys", json={**body, "models": ["tiny"]})
    assert issued.status_code == 200 and issued.json()["key"].startswith("vvk_"), issued.text
