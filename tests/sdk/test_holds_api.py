"""The sidecar's hold routes over HTTP: POST /v1/reserve, /v1/settle, /v1/release, /v1/renew."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.fake_gate import ALICE, BOB, make_gate
from tests.support.sdk import FakeClock
from tests.support.sidecar import Sidecar, started
from venice_sdk.holds_api import holds_router
from venice_sdk.ledger import HOLD_TTL, CreditLedger, LedgerUnavailable
from venice_sdk.server.middleware import INTERNAL_PREFIXES
from venice_sdk.usage import UsageRecord, UsageStore


def _http(
    ledger: CreditLedger,
    tmp_path: Path,
    credits: dict[str, int] | None = None,
    usage_store: UsageStore | None = None,
    allow_wallets: bool = True,
) -> tuple[TestClient, Any, Any]:
    gate, keys, client = make_gate(ledger, tmp_path, credits)
    app = FastAPI()
    app.include_router(holds_router(gate, usage_store, allow_wallets=allow_wallets))
    return TestClient(app), keys, client


def test_reserve_settle_release_over_http(ledger: CreditLedger, tmp_path: Path) -> None:
    http, _, _ = _http(ledger, tmp_path, {ALICE: 1_000})
    held = http.post(
        "/v1/reserve", json={"who": ALICE, "request_id": "req-1", "max_cost_micros": 600}
    )
    assert held.status_code == 200
    body = held.json()
    assert body["allowed"] and body["reason"] == "ok" and body["held_micros"] == 600
    assert body["remaining_micros"] == 400 and body["daily_limit_micros"] == 1_000
    # Retried: the same hold, nothing more held.
    again = http.post(
        "/v1/reserve", json={"who": ALICE, "request_id": "req-1", "max_cost_micros": 600}
    )
    assert again.json()["remaining_micros"] == 400
    refused = http.post(
        "/v1/reserve", json={"who": ALICE, "request_id": "req-2", "max_cost_micros": 401}
    ).json()
    assert not refused["allowed"] and refused["reason"] == "insufficient_credit"

    settled = http.post("/v1/settle", json={"request_id": "req-1", "actual_cost_micros": 250})
    assert settled.status_code == 200
    s = settled.json()
    assert (s["cost_micros"], s["released_micros"], s["spent_micros"], s["capped"]) == (
        250, 350, 250, False,
    )  # fmt: skip
    assert (
        http.post("/v1/settle", json={"request_id": "req-1", "actual_cost_micros": 250}).json() == s
    )
    conflict = http.post("/v1/release", json={"request_id": "req-1"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "hold_settled"
    assert ledger.spent(ALICE) == 250 and ledger.held(ALICE) == 0

    # Priced from the price book: "tiny" is 1 + 3 micro-USD per input + output token.
    priced = http.post(
        "/v1/reserve",
        json={"who": ALICE, "request_id": "req-3", "model": "tiny", "input_tokens": 10,
              "output_tokens": 100},
    ).json()  # fmt: skip
    assert priced["allowed"] and priced["held_micros"] == 310
    released = http.post("/v1/release", json={"request_id": "req-3"}).json()
    assert released["state"] == "released" and released["released_micros"] == 310
    late = http.post("/v1/settle", json={"request_id": "req-3", "actual_cost_micros": 1})
    assert late.status_code == 409 and late.json()["code"] == "hold_released"
    unknown = http.post("/v1/settle", json={"request_id": "nope", "actual_cost_micros": 1})
    assert unknown.status_code == 409 and unknown.json()["code"] == "unknown_hold"
    assert ledger.spent(ALICE) == 250 and ledger.held(ALICE) == 0


def test_refusals_and_bad_input(ledger: CreditLedger, tmp_path: Path) -> None:
    http, _, client = _http(ledger, tmp_path)
    ok = {"who": ALICE, "request_id": "r1", "max_cost_micros": 10}
    for bad in (
        {**ok, "request_id": ""},
        {**ok, "request_id": "a b"},
        {**ok, "request_id": "x:k"},
        {**ok, "request_id": "x" * 121},
        {**ok, "max_cost_micros": -1},
        {**ok, "max_cost_micros": "10"},
        {**ok, "max_cost_micros": 2**53},
        {**ok, "extra": 1},
        {**ok, "model": "tiny"},  # both ways at once
        {"who": ALICE, "request_id": "r1"},  # neither
        {**ok, "who": "x" * 300},
    ):
        assert http.post("/v1/reserve", json=bad).status_code == 422, bad
    unknown_model = http.post(
        "/v1/reserve", json={"who": ALICE, "request_id": "r1", "model": "nope"}
    )
    assert unknown_model.status_code == 400 and unknown_model.json()["code"] == "unknown_model"
    no_credit = http.post("/v1/reserve", json={**ok, "who": BOB}).json()
    assert not no_credit["allowed"] and no_credit["reason"] == "no_credit"
    malformed = http.post("/v1/reserve", json={**ok, "who": "0x12"}).json()
    assert malformed["reason"] == "malformed_address"
    assert http.post("/v1/reserve", json={**ok, "who": "vvk_nope"}).json()["reason"] == (
        "unknown_key"
    )
    reused = http.post("/v1/reserve", json=ok)
    assert reused.status_code == 200
    again = http.post("/v1/reserve", json={**ok, "max_cost_micros": 11})
    assert again.status_code == 409 and again.json()["code"] == "request_id_reused"
    client.down = True
    down = http.post("/v1/reserve", json={**ok, "request_id": "r9"})
    assert down.status_code == 503 and down.json()["code"] == "rpc_unavailable"
    assert http.post("/v1/settle", json={"request_id": "r1"}).status_code == 422


def test_a_key_holds_on_its_own_limit_and_on_its_wallet(
    ledger: CreditLedger, tmp_path: Path
) -> None:
    http, keys, _ = _http(ledger, tmp_path)
    issued = keys.issue(ALICE, True, daily_limit_micros=500)
    body = {"who": issued.key, "request_id": "k1", "max_cost_micros": 400}
    held = http.post("/v1/reserve", json=body).json()
    assert held["allowed"] and held["remaining_micros"] == 100 and held["daily_limit_micros"] == 500
    capped = http.post("/v1/reserve", json={**body, "request_id": "k2", "max_cost_micros": 101})
    assert capped.json()["reason"] == "key_limit_reached"
    assert ledger.held(issued.key_id) == 400 and ledger.held(ALICE) == 400
    http.post("/v1/settle", json={"request_id": "k1", "actual_cost_micros": 300})
    assert ledger.spent(issued.key_id) == 300 and ledger.spent(ALICE) == 300
    assert ledger.held(issued.key_id) == 0 and ledger.held(ALICE) == 0
    keys.revoke(issued.key_id)
    revoked = http.post("/v1/reserve", json={**body, "request_id": "k3"}).json()
    assert revoked["reason"] == "key_revoked"


def test_a_renewed_hold_outlives_its_ttl_on_the_wallet_and_on_the_key(
    ledger: CreditLedger, tmp_path: Path, clock: FakeClock
) -> None:
    """A server not in Python renews the holds of a request it still serves (a stream longer
    than the hold's TTL): the wallet's and its key's then live a TTL from the last renewal and
    settle as any hold; what is no longer a live hold is a 409 that changes nothing."""
    http, keys, _ = _http(ledger, tmp_path)
    issued = keys.issue(ALICE, True, daily_limit_micros=500)
    held = http.post(
        "/v1/reserve", json={"who": issued.key, "request_id": "s1", "max_cost_micros": 400}
    ).json()
    assert held["allowed"] and held["expires_at"] == clock.now + HOLD_TTL
    for _ in range(3):
        clock.now += HOLD_TTL - 1
        renewed = http.post("/v1/renew", json={"request_id": "s1"})
        assert renewed.status_code == 200
        lease = {"request_id": "s1", "address": ALICE.lower(), "state": "held",
                 "held_micros": 400, "expires_at": clock.now + HOLD_TTL}  # fmt: skip
        assert renewed.json() == lease
        assert ledger.held(ALICE) == 400 and ledger.held(issued.key_id) == 400
    settled = http.post("/v1/settle", json={"request_id": "s1", "actual_cost_micros": 300})
    assert settled.status_code == 200 and settled.json()["cost_micros"] == 300
    assert ledger.spent(ALICE) == 300 and ledger.spent(issued.key_id) == 300
    for rid, code in (("s1", "hold_settled"), ("nope", "unknown_hold")):
        refused = http.post("/v1/renew", json={"request_id": rid})
        assert refused.status_code == 409 and refused.json()["code"] == code
    http.post("/v1/reserve", json={"who": ALICE, "request_id": "s2", "max_cost_micros": 100})
    clock.now += HOLD_TTL  # its server died: the hold expired, and stays so
    late = http.post("/v1/renew", json={"request_id": "s2"})
    assert late.status_code == 409 and late.json()["code"] == "hold_expired"
    assert http.post("/v1/renew", json={}).status_code == 422
    assert http.post("/v1/renew", json={"request_id": "s2", "x": 1}).status_code == 422
    assert ledger.spent(ALICE) == 300 and ledger.held(ALICE) == 0


def test_a_settle_writes_one_usage_record_even_when_retried(
    ledger: CreditLedger, tmp_path: Path, usage_store: UsageStore, clock: Any
) -> None:
    http, keys, _ = _http(ledger, tmp_path, usage_store=usage_store)
    limited = keys.issue(ALICE, True, daily_limit_micros=5_000)  # holds on the key too
    plain = keys.issue(ALICE, True)  # no limit of its own: named by the settle's "who"
    for rid, who in (("u1", limited.key), ("u2", plain.key), ("u3", ALICE)):
        held = http.post("/v1/reserve", json={"who": who, "request_id": rid,
                                              "max_cost_micros": 900})  # fmt: skip
        assert held.json()["allowed"], held.json()
    settle = {"request_id": "u1", "actual_cost_micros": 1_200, "model": "tiny",
              "input_tokens": 300, "output_tokens": 200, "outcome": "disconnected"}  # fmt: skip
    first = http.post("/v1/settle", json=settle)
    assert first.status_code == 200 and first.json()["cost_micros"] == 900  # capped at the hold
    assert http.post("/v1/settle", json=settle).json() == first.json()  # a retry
    u2 = {"request_id": "u2", "actual_cost_micros": 40, "who": plain.key, "model": "tiny",
          "input_tokens": 40}  # fmt: skip
    http.post("/v1/settle", json=u2)
    http.post(
        "/v1/settle", json={"request_id": "u3", "actual_cost_micros": 7, "who": limited.key}
    )  # a key of the wallet, not the reserve's
    http.post("/v1/settle", json={"request_id": "u3", "actual_cost_micros": 7})

    records = usage_store.query(wallet=ALICE.lower()).records
    assert [r.request_id for r in records] == ["u1", "u2", "u3"]
    u1, u2, u3 = records
    assert u1 == UsageRecord("u1", limited.key_id, ALICE.lower(), "tiny", 300, 200, 0, 900, 900,
                             clock(), u1.day, "disconnected")  # fmt: skip
    assert u1.day == ledger.today()
    assert (u2.key_id, u2.cost, u2.hold, u2.input_tokens, u2.outcome) == (
        plain.key_id, 40, 900, 40, "complete",
    )  # fmt: skip
    # u3 was reserved by wallet; the "who" key holds nothing for it, yet it is the wallet's.
    assert (u3.key_id, u3.cost, u3.model) == (limited.key_id, 7, "")
    assert [r.request_id for r in usage_store.query(key_id=limited.key_id).records] == ["u1", "u3"]
    assert ledger.spent(ALICE) == 900 + 40 + 7


def test_a_settle_whose_record_fails_is_a_503_and_its_retry_records_it(
    ledger: CreditLedger, tmp_path: Path, usage_store: UsageStore
) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.fail = True

        def record(self, record: UsageRecord) -> bool:
            if self.fail:
                raise LedgerUnavailable("down")
            return usage_store.record(record)

    flaky = Flaky()
    http, _, _ = _http(ledger, tmp_path, usage_store=flaky)  # type: ignore[arg-type]
    http.post("/v1/reserve", json={"who": ALICE, "request_id": "f1", "max_cost_micros": 50})
    body = {"request_id": "f1", "actual_cost_micros": 30}
    down = http.post("/v1/settle", json=body)
    assert down.status_code == 503 and down.json()["code"] == "ledger_unavailable"
    assert ledger.spent(ALICE) == 30  # the debit is done; only the record is missing
    flaky.fail = False
    assert http.post("/v1/settle", json=body).json()["cost_micros"] == 30
    assert http.post("/v1/settle", json=body).status_code == 200
    assert [r.cost for r in usage_store.query(wallet=ALICE.lower()).records] == [30]
    assert ledger.spent(ALICE) == 30


def test_a_bare_wallet_is_refused_unless_wallets_are_allowed(
    ledger: CreditLedger, tmp_path: Path
) -> None:
    """/v1/reserve by a bare wallet address is refused wallet_not_allowed, holding nothing,
    unless the sidecar runs with --allow-wallet-authorize, as /v1/authorize is: anyone who
    knows an address could otherwise hold its credit, then settle it as spent. Before, the
    flag guarded /v1/authorize only, and /v1/reserve took any address. An API key works."""
    http, keys, _ = _http(ledger, tmp_path, {ALICE: 1_000}, allow_wallets=False)
    body = {"who": ALICE, "request_id": "w-1", "max_cost_micros": 600}
    refused = http.post("/v1/reserve", json=body)
    assert refused.status_code == 200
    assert not refused.json()["allowed"] and refused.json()["reason"] == "wallet_not_allowed"
    assert ledger.held(ALICE) == 0
    settle = http.post("/v1/settle", json={"request_id": "w-1", "actual_cost_micros": 600})
    assert settle.status_code == 409 and ledger.spent(ALICE) == 0
    key = keys.issue(ALICE, True).key
    held = http.post("/v1/reserve", json={**body, "who": key, "request_id": "k-1"}).json()
    assert held["allowed"] and ledger.held(ALICE) == 600


def test_metering_refuses_a_bare_wallet_when_the_gate_takes_keys_only(
    ledger: CreditLedger, tmp_path: Path
) -> None:
    """`Metering` (the library's holds) follows `Gatekeeper(..., wallets=False)` as
    `Gatekeeper.authorize` does."""
    from venice_sdk.metering import Metering

    gate, keys, _ = make_gate(ledger, tmp_path, {ALICE: 1_000})
    gate.wallets = False
    metering = Metering(gate)
    refused = metering.reserve(ALICE, "m-1", 100)
    assert not refused.allowed and refused.reason == "wallet_not_allowed"
    assert ledger.held(ALICE) == 0
    assert metering.reserve(keys.issue(ALICE, True).key, "m-2", 100).allowed


def test_every_hold_route_is_an_internal_route(ledger: CreditLedger, tmp_path: Path) -> None:
    """Each hold route moves a wallet's credit, so each is behind ``--admin-token``
    (`INTERNAL_PREFIXES`): a route added to the router without it would be public."""
    gate, _, _ = make_gate(ledger, tmp_path)
    paths = [route.path for route in holds_router(gate).routes]  # type: ignore[attr-defined]
    assert "/v1/renew" in paths
    assert [p for p in paths if not p.startswith(INTERNAL_PREFIXES)] == []


@pytest.mark.parametrize("ttl", [None, "60"], ids=["default", "hold-ttl-60"])
def test_the_sidecars_holds_live_its_hold_ttl(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any, ttl: str | None
) -> None:
    """`venice-sdk serve --hold-ttl S`: a hold taken through the sidecar keeps its credit S
    seconds unless renewed (900 by default, as the gateway's), on the real sidecar."""
    options = ("--allow-wallet-authorize", *(("--hold-ttl", ttl) if ttl else ()))
    sidecar = Sidecar(manifest, str(chain.provider.http_uri), tmp_path / "s", *options)
    with started(sidecar):
        body = {"who": str(staker.address), "request_id": "r-1", "max_cost_micros": 1_000}
        held = httpx.post(sidecar.url + "/v1/reserve", json=body).json()
        assert held["allowed"], held
        lives = held["expires_at"] - time.time()
        expected = float(ttl) if ttl else HOLD_TTL
        assert expected - 10 < lives <= expected + 1, (lives, held)
        renewed = httpx.post(sidecar.url + "/v1/renew", json={"request_id": "r-1"}).json()
        assert renewed["expires_at"] >= held["expires_at"]


def test_the_sidecar_refuses_a_wallets_reserve_without_allow_wallet_authorize(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any
) -> None:
    """`venice-sdk serve` without --allow-wallet-authorize: /v1/reserve by the staker's bare
    address holds nothing (before: it held, though /v1/authorize refused the same caller)."""
    sidecar = Sidecar(manifest, str(chain.provider.http_uri), tmp_path / "s")
    with started(sidecar):
        body = {"who": str(staker.address), "request_id": "r-1", "max_cost_micros": 1_000}
        refused = httpx.post(sidecar.url + "/v1/reserve", json=body).json()
        assert not refused["allowed"] and refused["reason"] == "wallet_not_allowed", refused
        authorize = {"who": str(staker.address), "model": "small", "output_tokens": 10}
        decided = httpx.post(sidecar.url + "/v1/authorize", json=authorize).json()
        assert decided["reason"] == "wallet_not_allowed"
