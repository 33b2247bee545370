"""The sidecar's hold routes over HTTP: POST /v1/reserve, /v1/settle, /v1/release."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.fake_gate import ALICE, BOB, make_gate
from venice_sdk.holds_api import holds_router
from venice_sdk.ledger import CreditLedger


def _http(
    ledger: CreditLedger, tmp_path: Path, credits: dict[str, int] | None = None
) -> tuple[TestClient, Any, Any]:
    gate, keys, client = make_gate(ledger, tmp_path, credits)
    app = FastAPI()
    app.include_router(holds_router(gate))
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
