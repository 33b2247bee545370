"""The per-request decision (`venice_sdk.gate.Gatekeeper`) and the sidecar (`venice_sdk.service`)
on the deployed suite: credit from staked DIEM debited per request, API keys bound to wallets
with real signatures, the refusals with their reasons, the OpenAPI spec, health and metrics,
and the `venice-sdk` command."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from tests.support.constants import VVV
from venice_sdk.auth import (
    ApiKeyStore,
    InMemoryChallengeStore,
    SiweVerifier,
    WalletChallenges,
)
from venice_sdk.entitlements import EntitlementClient
from venice_sdk.gate import ActiveStake, Gatekeeper, VcuPolicy
from venice_sdk.ledger import SQLiteLedger
from venice_sdk.pricing import PriceBook
from venice_sdk.service import create_app

USD = 10**6

PRICES = {
    "models": {
        "small": {"input_per_million": "0.05", "output_per_million": "0.25"},
        "painter": {"per_image": "0.02"},
    }
}


class Clock:
    def __init__(self, now: float = 1_790_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manifest(tmp_path, suite, config):
    from venice_ops.deploy.suite import write_manifest

    return write_manifest(suite, config, tmp_path)


@pytest.fixture
def diem_staker(suite, fund, alice):
    """alice: 2 DIEM staked ($2 of credit a day) and stake enough to be Pro."""
    fund(alice, 10_000 * VVV)
    suite.staking.stake(alice, 10_000 * VVV, sender=alice)
    suite.staking.mintExactDiem(2 * VVV, 10_000 * VVV, sender=alice)
    suite.diem.stake(2 * VVV, sender=alice)
    return alice


@pytest.fixture
def parts(tmp_path, manifest, chain):
    clock = Clock()
    client = EntitlementClient.from_manifest(manifest, str(chain.provider.http_uri), ttl=0)
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", clock=clock)
    keys = ApiKeyStore(tmp_path / "keys.sqlite3", clock=clock)
    store = InMemoryChallengeStore(clock=clock)
    gate = Gatekeeper(client, ledger, PriceBook.from_dict(PRICES), keys)
    return {
        "clock": clock,
        "client": client,
        "ledger": ledger,
        "keys": keys,
        "gate": gate,
        "challenges": WalletChallenges("venice.test", store, clock=clock),
        "siwe": SiweVerifier("venice.test", chain_id=chain.chain_id, store=store, clock=clock),
    }


def test_authorize__debits_staked_diem_credit_until_it_runs_out(parts, diem_staker):
    gate = parts["gate"]
    # 1M output tokens of "small" cost $0.25: eight fit in $2, the ninth does not.
    for i in range(8):
        decision = gate.authorize(diem_staker.address, "small", 0, 1_000_000)
        assert decision.allowed and decision.reason == "ok"
        assert decision.cost == 250_000 and decision.spent == (i + 1) * 250_000
        assert decision.source == "diem" and decision.daily_limit == 2 * USD and decision.pro
    refused = gate.authorize(diem_staker.address, "small", 0, 1_000_000)
    assert not refused.allowed and refused.reason == "insufficient_credit"
    assert parts["ledger"].spent(diem_staker.address) == 2 * USD
    # Midnight UTC: a fresh day's credit.
    parts["clock"].now = (int(parts["clock"].now) // 86_400 + 1) * 86_400
    assert gate.authorize(diem_staker.address, "small", 0, 1_000_000).allowed


def test_authorize_many__decides_a_batch_as_one_by_one_would(parts, diem_staker, bob):
    gate = parts["gate"]
    a = diem_staker.address
    batch = [(a, "small", 0, 1_000_000, 0)] * 5
    batch += [(a, "nope", 1, 0, 0), (bob.address, "small", 1, 0, 0), ("0x12", "small", 1, 0, 0)]
    batch += [(a, "small", 0, 1_000_000, 0)] * 5
    decisions = gate.authorize_many(batch)
    assert [d.reason for d in decisions] == ["ok"] * 5 + [
        "unknown_model",
        "no_credit",
        "malformed_address",
    ] + ["ok"] * 3 + ["insufficient_credit"] * 2
    assert [d.spent for d in decisions if d.allowed] == [250_000 * k for k in range(1, 9)]
    assert parts["ledger"].spent(a) == 2 * USD


def test_authorize__refusals_name_their_reason(parts, diem_staker, bob):
    gate = parts["gate"]
    assert gate.authorize(diem_staker.address, "no-such-model", 10).reason == "unknown_model"
    assert gate.authorize("0x1234", "small", 10).reason == "malformed_address"
    assert gate.authorize(bob.address, "small", 10).reason == "no_credit"
    assert gate.authorize("vvk_not-a-key", "small", 10).reason == "unknown_key"
    # A price beyond what a ledger can hold is a refusal, not an exception.
    assert gate.authorize(diem_staker.address, "small", 0, 10**30).reason == "bad_request"
    assert parts["ledger"].spent(diem_staker.address) == 0


def test_authorize__vcu_mode_shares_capacity_among_active_stake(parts, suite, fund, bob):
    fund(bob, 500 * VVV)
    suite.staking.stake(bob, 500 * VVV, sender=bob)
    gate = Gatekeeper(
        parts["client"],
        parts["ledger"],
        PriceBook.from_dict(PRICES),
        vcu=VcuPolicy(capacity_micros=100 * USD, active_stake=lambda: 1_000 * VVV),
    )
    decision = gate.authorize(bob.address, "painter", images=1)
    assert decision.allowed and decision.source == "vcu"
    assert decision.daily_limit == 50 * USD  # half the active stake: half the capacity


def test_vcu__active_stake_counts_only_wallets_seen_in_the_last_7_days(
    parts, suite, fund, bob, carol
):
    for account, amount in ((bob, 300 * VVV), (carol, 100 * VVV)):
        fund(account, amount)
        suite.staking.stake(account, amount, sender=account)
    ledger, clock = parts["ledger"], parts["clock"]
    active = ActiveStake(parts["client"], ledger)
    ledger.record_activity(carol.address)
    clock.now += 8 * 86_400  # carol's call is now 8 days old
    ledger.record_activity(bob.address)
    assert active() == 300 * VVV  # bob only
    gate = Gatekeeper(
        parts["client"],
        ledger,
        PriceBook.from_dict(PRICES),
        vcu=VcuPolicy(capacity_micros=90 * USD, active_stake=active),
    )
    assert gate.authorize(bob.address, "painter", images=1).daily_limit == 90 * USD
    # carol calls again: she is active from the next day's refresh, and bob's share halves...
    ledger.record_activity(carol.address)
    assert active() == 300 * VVV  # ...not before 00:00 UTC
    clock.now = (int(clock.now) // 86_400 + 1) * 86_400
    assert active() == 400 * VVV
    assert gate.authorize(bob.address, "painter", images=1).daily_limit == 90 * USD * 3 // 4


def test_api_key__issued_to_a_staker_by_signature_and_capped_by_its_own_limit(parts, diem_staker):
    challenges, keys, gate = parts["challenges"], parts["keys"], parts["gate"]
    wallet = Account.create()
    # alice's real key (ape's test account), signing with eth-account.
    account = Account.from_key(diem_staker.private_key)
    assert account.address == diem_staker.address
    challenge = challenges.issue_challenge(account.address)
    signature = account.sign_message(encode_defunct(text=challenge.message)).signature.hex()
    address = challenges.verify_challenge(account.address, signature)
    issued = keys.issue(
        address, lambda a: parts["client"].get(a).staked > 0, daily_limit_micros=500_000
    )
    ok = gate.authorize(issued.key, "small", 0, 1_000_000)
    assert ok.allowed and ok.address == diem_staker.address and ok.daily_limit == 500_000
    assert gate.authorize(issued.key, "small", 0, 1_000_000).allowed
    capped = gate.authorize(issued.key, "small", 0, 1_000_000)
    assert not capped.allowed and capped.reason == "key_limit_reached"
    # The wallet itself still has its own credit left.
    assert parts["ledger"].spent(diem_staker.address) == 500_000
    keys.revoke(issued.key_id)
    assert gate.authorize(issued.key, "small", 10).reason == "key_revoked"
    # A wallet with no stake gets no key.
    with pytest.raises(Exception) as info:
        keys.issue(wallet.address, lambda a: parts["client"].get(a).staked > 0)
    assert getattr(info.value, "code", None) == "no_stake"


@pytest.mark.parametrize("authorize_batch", [64, 1], ids=["batched", "one-by-one"])
def test_service__endpoints_spec_health_and_metrics(parts, diem_staker, authorize_batch):
    app = create_app(
        parts["gate"],
        parts["challenges"],
        parts["siwe"],
        parts["keys"],
        authorize_batch,
        allow_wallet_authorize=True,
    )
    http = TestClient(app)
    spec = http.get("/openapi.json").json()
    assert {"/v1/authorize", "/v1/entitlements/{address}", "/healthz", "/metrics"} <= set(
        spec["paths"]
    )
    assert http.get("/healthz").json()["ok"] is True
    e = http.get(f"/v1/entitlements/{diem_staker.address}").json()
    assert e["diem_staked"] == str(2 * VVV) and e["daily_credit_micros"] == 2 * USD and e["pro"]
    bad = http.get("/v1/entitlements/0x12")
    assert bad.status_code == 400 and bad.json()["code"] == "malformed_address"
    body = {"who": diem_staker.address, "model": "small", "output_tokens": 1_000_000}
    decision = http.post("/v1/authorize", json=body).json()
    assert decision["allowed"] and decision["cost_micros"] == 250_000
    assert http.post("/v1/authorize", json={**body, "output_tokens": -1}).status_code == 422
    unknown = http.post("/v1/authorize", json={**body, "model": "x"}).json()
    assert not unknown["allowed"] and unknown["reason"] == "unknown_model"
    # Sign-in: challenge, sign with the wallet's key, get an API key.
    account = Account.from_key(diem_staker.private_key)
    challenge = http.post("/v1/auth/challenge", json={"address": account.address}).json()
    signature = account.sign_message(encode_defunct(text=challenge["message"])).signature.hex()
    issued = http.post(
        "/v1/auth/keys", json={"address": account.address, "signature": signature}
    ).json()
    assert issued["key"].startswith("vvk_")
    replay = http.post("/v1/auth/keys", json={"address": account.address, "signature": signature})
    assert replay.status_code == 400 and replay.json()["code"] == "nonce_replayed"
    by_key = http.post("/v1/authorize", json={**body, "who": issued["key"]}).json()
    assert by_key["allowed"] and by_key["address"] == account.address
    revoked = http.delete("/v1/auth/keys", headers={"Authorization": f"Bearer {issued['key']}"})
    assert revoked.status_code == 200
    metrics = http.get("/metrics").text
    assert 'venice_authorize_total{reason="ok"}' in metrics
    assert "venice_request_seconds_bucket" in metrics


def test_service__concurrent_authorize_requests_are_batched_each_with_its_own_decision(
    parts, diem_staker, bob
):
    """40 concurrent requests from a wallet with $2 of credit, each with a cost of its own
    (about half fit), among refusals of other kinds: decided in batches, yet every answer is
    that request's own decision and the wallet is never overspent."""
    app = create_app(
        parts["gate"],
        parts["challenges"],
        parts["siwe"],
        parts["keys"],
        authorize_batch=16,
        allow_wallet_authorize=True,
    )
    a = diem_staker.address
    # "small" costs $0.25 per 1M output tokens: 400_000 + 4 * i tokens cost 100_000 + i micro-USD.
    bodies = [{"who": a, "model": "small", "output_tokens": 400_000 + 4 * i} for i in range(40)]
    odd = [
        ({"who": bob.address, "model": "small", "output_tokens": 4}, "no_credit"),
        ({"who": a, "model": "nope", "output_tokens": 4}, "unknown_model"),
        ({"who": a, "model": "small", "output_tokens": 10**18}, "bad_request"),
        ({"who": "0x12", "model": "small", "output_tokens": 4}, "malformed_address"),
    ]
    for k, (body, _) in enumerate(odd):
        bodies.insert(10 * k + 5, body)

    async def send_all() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as http:
            answers = await asyncio.gather(*(http.post("/v1/authorize", json=b) for b in bodies))
            metrics = (await http.get("/metrics")).text
        assert all(answer.status_code == 200 for answer in answers)
        batches = float(re.search(r"venice_authorize_batch_size_count (\S+)", metrics)[1])
        decided = float(re.search(r"venice_authorize_batch_size_sum (\S+)", metrics)[1])
        assert decided == len(bodies) and batches < len(bodies) / 2, (batches, decided)
        return [answer.json() for answer in answers]

    answers = asyncio.run(send_all())
    limit = 2 * USD
    mine = []
    for body, answer in zip(bodies, answers, strict=True):
        expected = next((reason for b, reason in odd if b is body), None)
        if expected is not None:
            assert not answer["allowed"] and answer["reason"] == expected
            continue
        cost = 100_000 + (body["output_tokens"] - 400_000) // 4
        assert answer["cost_micros"] == cost  # this request's own price, not a neighbour's
        assert answer["daily_limit_micros"] == limit
        assert answer["remaining_micros"] == limit - answer["spent_micros"]
        mine.append((answer, cost))
    allowed = sorted((a["spent_micros"], cost) for a, cost in mine if a["allowed"])
    refused = [cost for a, cost in mine if not a["allowed"]]
    assert allowed and refused, "the wallet's credit was not contested"
    # Each allowed answer reports the total after exactly its own debit.
    totals = [0] + [spent for spent, _ in allowed]
    assert all(totals[k + 1] - totals[k] == cost for k, (_, cost) in enumerate(allowed))
    spent = parts["ledger"].spent(a)
    assert spent == sum(cost for _, cost in allowed) == totals[-1] <= limit
    # Spend only grows, so each refused request was more than what is left even now.
    assert all(a["reason"] == "insufficient_credit" for a, _ in mine if not a["allowed"])
    assert min(refused) > limit - spent


def test_cli__check_prints_the_entitlement_and_refuses_a_bad_address(manifest, chain, diem_staker):
    rpc = str(chain.provider.http_uri)
    base = [
        sys.executable,
        "-m",
        "venice_sdk.cli",
        "check",
        "--manifest",
        str(manifest),
        "--rpc",
        rpc,
    ]
    ok = subprocess.run([*base, diem_staker.address], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "credit today  $2.00" in ok.stdout and "yes, by stake" in ok.stdout
    bad = subprocess.run([*base, "0xnope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "not an address" in bad.stderr


def test_cli__keys_issue_checks_the_stake_on_chain(tmp_path, manifest, chain, diem_staker, capsys):
    """`venice-sdk keys issue` with every lifecycle field; a wallet without stake is refused."""
    from venice_sdk.cli import main

    where = ["--data-dir", str(tmp_path), "--manifest", str(manifest)]
    where += ["--rpc", str(chain.provider.http_uri)]
    args = ["--daily", "1.5", "--monthly", "20", "--expires", "2030-01-01T00:00:00Z"]
    args += ["--model", "qwen3-4b", "--kind", "admin", "--label", "ci"]
    assert main(["keys", "issue", diem_staker.address, *where, *args]) == 0
    out = capsys.readouterr().out  # after any log line of the fixtures' transactions
    key = next(line.split()[1] for line in out.splitlines() if line.startswith("key "))
    record = ApiKeyStore(tmp_path / "keys.sqlite3").resolve(key)
    assert (record.address, record.kind, record.models) == (
        diem_staker.address,
        "admin",
        ("qwen3-4b",),
    )
    assert (record.daily_limit_micros, record.monthly_limit_micros) == (1_500_000, 20_000_000)
    assert record.expires_at == 1_893_456_000 and record.label == "ci"
    assert main(["keys", "issue", Account.create().address, *where]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no staked VVV" in err
