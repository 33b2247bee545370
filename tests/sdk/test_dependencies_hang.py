"""Issue 13, items 4 and 5: a dependency that hangs or goes away costs one timeout, not one per
request, and is answered as such: stale-within-grace or fail-closed for the node, a 503 JSON
``ledger_unavailable`` for the ledger (never a plain-text 500), /healthz liveness only and
/readyz naming what is not ready (a node that is down, an empty restarted chain, the wrong
chain, a Redis that is down). Loopback only; the sidecar runs as a real process."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from tests.support.sdk import NO_REDIS
from tests.support.sidecars import PrivateNode, Sidecar, anvil_binary, sidecar_on_redis, timed_get
from venice_sdk.auth import ApiKeyStore, InMemoryChallengeStore, SiweVerifier, WalletChallenges
from venice_sdk.breaker import CircuitBreaker
from venice_sdk.entitlements import (
    Entitlement,
    EntitlementClient,
    EntitlementError,
    EntitlementUnavailable,
)
from venice_sdk.gate import Gatekeeper
from venice_sdk.ledger import LedgerUnavailable, RedisLedger, SQLiteLedger
from venice_sdk.ledger.redis import _DEBIT_KEYS, _DEBIT_LUA
from venice_sdk.pricing import PriceBook
from venice_sdk.service import create_app

# Costs and budgets of milliseconds: run alone, after the parallel sessions (scripts/run_tests.sh).
pytestmark = pytest.mark.timing

VVV = 10**18
LENS = "0x" + "11" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hung_node() -> Any:
    """A TCP port that accepts connections and never answers (a paused node looks like this)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_breaker__opens_on_failure_refuses_during_cooloff_then_one_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2.0, clock)
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 2.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # everyone else waits for it
    breaker.failure()
    assert not breaker.allow()
    clock.now += 2.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.opened == 1


def test_hung_node__costs_one_timeout_not_one_per_request(hung_node: str) -> None:
    """Before: web3's 5 s timeout x 5 retries per read. Now: rpc_timeout x (1 + rpc_retries)
    once, then the breaker answers at once for its cool-off; after it, one probe."""
    clock = Clock()
    provider = Web3.HTTPProvider(
        hung_node, request_kwargs={"timeout": 0.2}, exception_retry_configuration=None
    )
    client = EntitlementClient(
        Web3(provider), LENS, ttl=0, rpc_retries=1, breaker_cooloff=2.0, clock=clock
    )
    wallets = ["0x" + f"{i:040x}" for i in range(1, 21)]
    start = time.monotonic()
    with pytest.raises(EntitlementUnavailable) as first:
        client.get(wallets[0])
    first_cost = time.monotonic() - start
    assert first.value.code == "rpc_unavailable"
    assert 0.35 <= first_cost < 1.0, first_cost  # two attempts of 0.2 s
    start = time.monotonic()
    for wallet in wallets[1:]:
        with pytest.raises(EntitlementUnavailable, match="circuit open"):
            client.get(wallet)
    assert time.monotonic() - start < 0.1  # 19 requests, no node call
    assert client.rpc_calls == 2 and client.breaker.refused == 19
    clock.now += 2.0  # the cool-off passed: one probe, which fails again
    with pytest.raises(EntitlementUnavailable):
        client.get(wallets[0])
    assert client.rpc_calls == 4 and client.breaker.state == "open"


def test_hung_node__readiness_probe_is_bounded_and_fails_fast_once_open(hung_node: str) -> None:
    provider = Web3.HTTPProvider(
        hung_node, request_kwargs={"timeout": 0.2}, exception_retry_configuration=None
    )
    client = EntitlementClient(Web3(provider), LENS, breaker_cooloff=60.0)
    start = time.monotonic()
    with pytest.raises(EntitlementUnavailable):
        client.probe()
    assert time.monotonic() - start < 0.5
    start = time.monotonic()
    with pytest.raises(EntitlementUnavailable, match="circuit open"):
        client.probe()
    assert time.monotonic() - start < 0.01


# --- Redis: bounded timeouts, and no caller charged for a debit it was told failed ----------


@pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)
def test_redis_down__debit_is_unavailable_within_its_budget(tmp_path: Path) -> None:
    port = socket.create_server(("127.0.0.1", 0))
    url = f"redis://127.0.0.1:{port.getsockname()[1]}/0"
    port.close()  # nothing listens there now
    ledger = RedisLedger(url, retry_for=0.3)
    start = time.monotonic()
    with pytest.raises(LedgerUnavailable):
        ledger.debit("0x" + "aa" * 20, 5, 100)
    assert time.monotonic() - start < 1.0
    with pytest.raises(LedgerUnavailable):
        ledger.ping()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)
@pytest.mark.parametrize("batch", [False, True], ids=["one", "batch"])
def test_redis_lost_reply__a_debit_reported_unavailable_is_taken_back(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    """The script ran but every reply is lost until retry_for passes: the caller hears
    LedgerUnavailable, so the debit must not stand. The next call settles it (refund), and the
    voided token can never debit later."""
    wallet = "0x" + "bb" * 20
    ledger = RedisLedger(redis_url, retry_for=0.2)
    sent: list[tuple[Any, ...]] = []
    real_one, real_many = ledger._call_one, ledger._run_direct

    def lose_one(args: tuple[Any, ...]) -> Any:
        sent.append(args)
        real_one(args)
        raise ledger._redis.ConnectionError("reply lost")

    def lose_many(calls: list[tuple[Any, ...]]) -> Any:
        sent.extend(calls)
        real_many(calls)
        raise ledger._redis.ConnectionError("reply lost")

    monkeypatch.setattr(ledger, "_call_one", lose_one)
    monkeypatch.setattr(ledger, "_run_direct", lose_many)
    with pytest.raises(LedgerUnavailable):
        if batch:
            ledger.debit_many([(wallet, 30, 1_000), (wallet, 40, 1_000)])
        else:
            ledger.debit(wallet, 30, 1_000)
    expected = 70 if batch else 30
    assert ledger.spent(wallet) == expected  # applied once (retries carried its token)
    assert ledger.unsettled == (2 if batch else 1)
    monkeypatch.setattr(ledger, "_call_one", real_one)
    monkeypatch.setattr(ledger, "_run_direct", real_many)
    outcome = ledger.debit(wallet, 5, 1_000)  # settles first, then debits
    assert outcome.allowed and outcome.spent == 5 and ledger.spent(wallet) == 5
    assert ledger.refunded == (2 if batch else 1) and ledger.unsettled == 0
    # The voided token: the original script, run late, debits nothing.
    ledger.client.eval(_DEBIT_LUA, _DEBIT_KEYS, *sent[0])
    assert ledger.spent(wallet) == 5
    ledger.close()


# --- over HTTP: the real sidecar -------------------------------------------------------------


@pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)
def test_redis_outage__503_ledger_unavailable_json_and_readyz_says_so(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any
) -> None:
    """Before: a plain-text 500 with a traceback after 5 s, and /healthz ok. Now: a 503 JSON
    with code ledger_unavailable within about a second, /healthz instant (liveness), /readyz
    503 naming the ledger and the key store; all well again once Redis is back."""
    body = {"who": str(staker.address), "model": "small", "output_tokens": 4_000}
    options = ("--ledger-retry-for", "0.5")
    with sidecar_on_redis(tmp_path, manifest, chain, *options) as (redis_server, sidecar):
        assert httpx.post(sidecar.url + "/v1/authorize", json=body).json()["allowed"]
        status, _, ready = timed_get(sidecar.url + "/readyz")
        assert status == 200 and ready["ready"], ready
        assert set(ready["checks"]) == {"node", "ledger", "keys"}
        redis_server.kill()
        start = time.monotonic()
        r = httpx.post(sidecar.url + "/v1/authorize", json=body, timeout=10)
        took = time.monotonic() - start
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "ledger_unavailable" and took < 1.5, (r.json(), took)
        assert "Traceback" not in r.text
        status, took, health = timed_get(sidecar.url + "/healthz")
        assert status == 200 and health == {"ok": True} and took < 0.5
        status, took, ready = timed_get(sidecar.url + "/readyz")
        assert status == 503 and not ready["ready"] and took < 1.5
        assert ready["checks"]["node"]["ok"]
        assert not ready["checks"]["ledger"]["ok"]
        assert ready["checks"]["ledger"]["code"] == "ledger_unavailable"
        assert ready["checks"]["keys"]["code"] == "key_store_unavailable"
        # A request by API key fails closed too (the key store is in the same Redis).
        by_key = httpx.post(sidecar.url + "/v1/authorize", json={**body, "who": "vvk_x"})
        assert by_key.status_code in (200, 503) and not by_key.json().get("allowed")
        # Sign-in's challenges live in the same Redis: a 503 JSON too, not a 500.
        r = httpx.post(
            sidecar.url + "/v1/auth/challenge", json={"address": str(staker.address)}, timeout=10
        )
        assert r.status_code == 503 and r.json()["code"] == "key_store_unavailable", r.text
        redis_server.start()
        r = httpx.post(sidecar.url + "/v1/authorize", json=body)
        assert r.status_code == 200 and r.json()["allowed"]
        assert timed_get(sidecar.url + "/readyz")[0] == 200


@pytest.mark.skipif(shutil.which("redis-server") is None, reason=NO_REDIS)
def test_redis_a_read_only_replica__503_ledger_unavailable_and_readyz_says_so(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any
) -> None:
    """Redis turned replica (a failover under way, or the URL of a replica) answers PING and
    refuses every write. Before: /readyz said ready (its check was a PING) while every
    authorize was a 500 (redis-py's ReadOnlyError), so a load balancer kept sending traffic.
    Now: a 503 ledger_unavailable, /readyz 503 naming the ledger; well again once primary."""
    import redis

    from venice_ops.bench.redis import free_port

    body = {"who": str(staker.address), "model": "small", "output_tokens": 4_000}
    with sidecar_on_redis(tmp_path, manifest, chain, "--ledger-retry-for", "0.5") as (
        redis_server,
        sidecar,
    ):
        assert httpx.post(sidecar.url + "/v1/authorize", json=body).json()["allowed"]
        admin = redis.Redis(port=redis_server.port)
        admin.replicaof("127.0.0.1", free_port())  # a primary that is not there
        try:
            r = httpx.post(sidecar.url + "/v1/authorize", json=body, timeout=10)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "ledger_unavailable" and r.headers["retry-after"]
            status, _, ready = timed_get(sidecar.url + "/readyz")
            assert status == 503 and not ready["ready"]
            assert ready["checks"]["ledger"]["code"] == "ledger_unavailable"
            assert "refuses writes" in ready["checks"]["ledger"]["message"]
            challenge = {"address": str(staker.address)}
            r = httpx.post(sidecar.url + "/v1/auth/challenge", json=challenge, timeout=10)
            assert r.status_code == 503, r.text  # sign-in's store is the same Redis
        finally:
            admin.replicaof("NO", "ONE")
            admin.close()
        r = httpx.post(sidecar.url + "/v1/authorize", json=body)
        assert r.status_code == 200 and r.json()["allowed"]
        assert timed_get(sidecar.url + "/readyz")[0] == 200


@pytest.mark.skipif(anvil_binary() is None, reason="anvil is not installed")
def test_readyz__an_empty_restarted_chain_or_the_wrong_chain_is_not_ready(
    tmp_path: Path, manifest: Path, chain: Any
) -> None:
    """Before: /healthz said ok on an empty restarted chain. Now /readyz checks the lens answers
    at the configured block and the chain id is the manifest's. (A sidecar started on a node of
    another chain refuses to start; one whose node is replaced by such a node is not ready.)"""
    node = PrivateNode(str(chain.provider.http_uri), chain.chain_id, tmp_path / "node")
    node.start(load=False)  # a chain restarted empty: the lens has no code
    sidecar = Sidecar(manifest, node.url, tmp_path / "sidecar", "--breaker-cooloff", "0.2")
    wrong: PrivateNode | None = None
    try:
        sidecar.start()
        status, _, ready = timed_get(sidecar.url + "/readyz")
        assert status == 503 and not ready["checks"]["node"]["ok"], ready
        assert ready["checks"]["node"]["code"] == "rpc_unavailable"
        assert ready["checks"]["ledger"]["ok"] and ready["checks"]["keys"]["ok"]
        assert timed_get(sidecar.url + "/healthz")[0] == 200
        node.kill()
        node.start()  # the same node, with the deployment
        time.sleep(0.25)  # the breaker's cool-off
        status, _, ready = timed_get(sidecar.url + "/readyz")
        assert status == 200 and ready["checks"]["node"]["chain_id"] == chain.chain_id, ready
        # The node replaced, on its port, by one of another chain id: not ready, "wrong_chain".
        node.kill()
        wrong = PrivateNode(str(chain.provider.http_uri), chain.chain_id + 1, tmp_path / "wrong")
        wrong.port = node.port
        wrong.start()
        time.sleep(0.25)  # the breaker's cool-off
        status, _, ready = timed_get(sidecar.url + "/readyz")
        assert status == 503 and ready["checks"]["node"]["code"] == "wrong_chain", ready
        sidecar.stop()
        # A sidecar started on it refuses to start: one error line naming both chains.
        sidecar = Sidecar(manifest, wrong.url, tmp_path / "sidecar2")
        with pytest.raises(RuntimeError, match=f"is chain {chain.chain_id + 1}, but"):
            sidecar.start()
    finally:
        sidecar.stop()
        node.stop()
        if wrong is not None:
            wrong.stop()


# --- in process: the 503s and /readyz, with stand-ins for the node and a failing ledger ------


class _Ledger(SQLiteLedger):
    """A SQLite ledger that can be switched off (its debits and pings raise)."""

    down = False

    def _debit_many(self, day: int, requests: list[tuple[str, int, int]]) -> list[Any]:
        if self.down:
            raise LedgerUnavailable("the ledger is down (test)")
        return super()._debit_many(day, requests)

    def ping(self) -> None:
        if self.down:
            raise LedgerUnavailable("the ledger is down (test)")
        super().ping()


class _Client(EntitlementClient):
    """Every wallet has 2 DIEM staked; the node itself (for /readyz) does not answer."""

    def get_many(self, addresses: Any) -> list[Entitlement]:
        return [
            Entitlement(a, 1, 1, VVV, 0, 0, 0, 0, False, 0, 2 * VVV, 0, 0, VVV) for a in addresses
        ]

    def cached(self, address: str) -> Entitlement | None:
        return self.get_many([address])[0]


@pytest.mark.parametrize("authorize_batch", [64, 1], ids=["batched", "one-by-one"])
def test_service__ledger_down_is_a_503_and_readyz_names_each_check(
    tmp_path: Path, hung_node: str, authorize_batch: int
) -> None:
    provider = Web3.HTTPProvider(
        hung_node, request_kwargs={"timeout": 0.1}, exception_retry_configuration=None
    )
    client = _Client(Web3(provider), LENS, chain_id=31337)
    ledger = _Ledger(tmp_path / "ledger.sqlite3")
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    store = InMemoryChallengeStore()
    small = {"input_per_million": "0", "output_per_million": "0.25"}
    prices = PriceBook.from_dict({"models": {"small": small}})
    gate = Gatekeeper(client, ledger, prices, keys)
    app = create_app(
        gate,
        WalletChallenges("venice.test", store),
        SiweVerifier("venice.test", chain_id=31337, store=store),
        keys,
        authorize_batch,
        allow_wallet_authorize=True,
    )
    http = TestClient(app)
    body = {"who": "0x" + "ab" * 20, "model": "small", "output_tokens": 4_000}
    assert http.post("/v1/authorize", json=body).json()["allowed"]
    ready = http.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["ledger"] == {"ok": True} and checks["keys"] == {"ok": True}
    assert not checks["node"]["ok"] and checks["node"]["code"] == "rpc_unavailable"
    assert http.get("/healthz").json() == {"ok": True}
    ledger.down = True
    refused = http.post("/v1/authorize", json=body)
    assert refused.status_code == 503 and refused.json()["code"] == "ledger_unavailable"
    assert refused.headers["retry-after"] == "1"
    checks = http.get("/readyz").json()["checks"]
    assert checks["ledger"]["code"] == "ledger_unavailable"
    spec = http.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]
    assert {"200", "503"} <= set(spec)
    ledger.down = False
    assert http.post("/v1/authorize", json=body).json()["allowed"]


def test_probe__the_lens_answers_on_the_manifest_chain(manifest: Path, chain: Any) -> None:
    client = EntitlementClient.from_manifest(manifest, str(chain.provider.http_uri))
    assert client.chain_id == chain.chain_id
    ready = client.probe()
    assert ready["chain_id"] == chain.chain_id and ready["block"] >= 1
    client.chain_id = chain.chain_id + 1  # a manifest of another chain
    with pytest.raises(EntitlementError) as info:
        client.probe()
    assert info.value.code == "wrong_chain"
    assert client.breaker.state == "closed"  # the node itself answered
