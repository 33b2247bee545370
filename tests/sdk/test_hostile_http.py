"""The sidecar against a hostile internet (issue 13, items 1, 2, 3, 7 and 8), over real HTTP:
`venice-sdk serve` as a subprocess on the deployed suite (Anvil) with a Redis ledger, each
attack reproduced and shown refused with a JSON answer and a stable code."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from tests.support.sdk import get_on
from tests.support.sidecar import ROOT, Sidecar, stake_for_credit, started
from venice_sdk.ledger import MAX_AMOUNT, RedisLedger
from venice_sdk.server.settings import KEEP_ALIVE

VVV = 10**18
USD = 10**6
TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
DOMAIN, URI = "venice.test", "https://venice.test/login"


def sign(account: Any, text: str) -> str:
    signed = Account.sign_message(encode_defunct(text=text), account.private_key)
    return "0x" + signed.signature.hex().removeprefix("0x")


@pytest.fixture(scope="module")
def manifest(suite: Any, config: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from venice_ops.deploy.suite import write_manifest

    return Path(write_manifest(suite, config, tmp_path_factory.mktemp("manifest")))


@pytest.fixture(scope="module")
def staker(suite: Any, fund: Any, alice: Any) -> Any:
    """alice: VVV staked and 2 DIEM staked ($2 of credit a day)."""
    return stake_for_credit(suite, fund, alice)


@pytest.fixture(scope="module")
def sidecar(
    manifest: Path,
    staker: Any,
    chain: Any,
    redis_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Sidecar]:
    rpc = str(chain.provider.http_uri)
    with started(
        Sidecar(
            manifest,
            rpc,
            tmp_path_factory.mktemp("sidecar"),
            *("--redis-url", redis_server.url, "--admin-token", TOKEN, "--ttl", "3600"),
            # Keys in SQLite, so the batch test can plant a limit stored before limits were checked.
            *("--key-store", "sqlite"),
            *("--siwe-domain", DOMAIN, "--siwe-uri", URI, "--log-format", "json"),
        )
    ) as server:
        yield server


@pytest.fixture
def http(sidecar: Sidecar) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sidecar.url, timeout=10) as client:
        yield client


def issue_key(http: httpx.Client, account: Any, **fields: Any) -> dict[str, Any]:
    challenge = http.post("/v1/auth/challenge", json={"address": account.address}).json()
    body = {"address": account.address, "signature": sign(account, challenge["message"])}
    answer = http.post("/v1/auth/keys", json={**body, **fields})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def spent(redis_url: str, account: str) -> int:
    ledger = RedisLedger(redis_url)
    try:
        return ledger.spent(account)
    finally:
        ledger.close()


# ------------------------------------------------------------------ 1. sign-in is not a DoS


def test_garbage_sign_ins_are_refused_in_microseconds(http: httpx.Client) -> None:
    """1 KB cost 2.4 s of CPU, 10 KB never finished, 5 MB held the process for minutes."""
    for size in (1_000, 2_000, 4_000, 8_000):
        start = time.perf_counter()
        answer = http.post("/v1/auth/siwe", json={"message": "a" * size, "signature": "0x00"})
        assert time.perf_counter() - start < 0.5
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["code"] in ("malformed_message", "invalid_request")
    for size in (1 << 20, 5 << 20):
        start = time.perf_counter()
        answer = http.post("/v1/auth/siwe", json={"message": "a" * size, "signature": "0x00"})
        assert time.perf_counter() - start < 2.0
        assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    # A well-formed header over a long statement is refused too, as fast: no parser runs.
    text = f"{DOMAIN} wants you to sign in with your Ethereum account:\n0x" + "ab" * 20
    text += "\n\n" + "x" * 4_000 + "\n\nURI: " + URI
    start = time.perf_counter()
    answer = http.post("/v1/auth/siwe", json={"message": text, "signature": "0x00"})
    assert time.perf_counter() - start < 0.5
    assert answer.json()["code"] == "malformed_message"


@pytest.mark.timing  # a rate against a rate: another session's load would move one of them
def test_garbage_sign_ins_do_not_starve_entitlement_reads(
    sidecar: Sidecar, staker: Any, http: httpx.Client
) -> None:
    """Four clients posting garbage sign-ins while a fifth reads entitlements."""
    path = f"/v1/entitlements/{staker.address}"
    assert http.get(path, headers=ADMIN).status_code == 200  # cached

    def reads(seconds: float) -> float:
        with httpx.Client(base_url=sidecar.url, timeout=10) as client:
            n, start = 0, time.monotonic()
            while time.monotonic() - start < seconds:
                assert client.get(path, headers=ADMIN).status_code == 200
                n += 1
            return n / (time.monotonic() - start)

    stop = threading.Event()
    codes: list[int] = []

    def garbage() -> None:
        with httpx.Client(base_url=sidecar.url, timeout=10) as client:
            while not stop.is_set():
                body = {"message": "a" * 4_000, "signature": "0x00"}
                codes.append(client.post("/v1/auth/siwe", json=body).status_code)

    alone = reads(1.5)
    senders = [threading.Thread(target=garbage) for _ in range(4)]
    for sender in senders:
        sender.start()
    try:
        attacked = reads(1.5)
    finally:
        stop.set()
        for sender in senders:
            sender.join(10)
    assert codes and set(codes) == {400}
    # Before: ~3,900 req/s fell to 142 (4%). Now a garbage sign-in is a quick 400, and five
    # clients each waiting for their answer share the sidecar and this test's CPU: the reader
    # keeps 30-34% of its rate here, and CI once measured 19.7%. The bound sits between
    # starvation (4%) and an even share of five (20%); scripts/bench_hostile.py measures it.
    assert attacked >= 0.1 * alone, (alone, attacked)


# -------------------------------------------------------------------- 2. batch isolation


def test_a_poisoned_request_in_a_batch_of_300_changes_no_one_else(
    sidecar: Sidecar, staker: Any, http: httpx.Client, redis_server: Any
) -> None:
    """A key with an absurd limit (as stored before limits were checked), a price beyond any
    ledger and an unknown model, among 296 ordinary requests sent at once: every ordinary one
    is allowed at its own price and only what was reported allowed is debited."""
    keys = [issue_key(http, staker, daily_limit_micros=1 * USD)["key"] for _ in range(3)]
    poisoned = issue_key(http, staker)
    with sqlite3.connect(sidecar.data_dir / "keys.sqlite3") as db:
        db.execute(
            "UPDATE api_keys SET daily_limit_micros = ? WHERE key_id = ?",
            (2**63 - 1, poisoned["key_id"]),
        )
    before = spent(redis_server.url, staker.address)
    bodies: list[dict[str, Any]] = [
        {"who": keys[i % 3], "model": "qwen3-4b", "input_tokens": 100 + i} for i in range(296)
    ]
    odd = {
        50: ({"who": poisoned["key"], "model": "qwen3-4b", "input_tokens": 10}, "ok"),
        100: ({"who": keys[0], "model": "qwen3-4b", "output_tokens": 2**62}, "bad_request"),
        150: ({"who": keys[1], "model": "no-such-model", "input_tokens": 1}, "unknown_model"),
        200: ({"who": "vvk_forged", "model": "qwen3-4b", "input_tokens": 1}, "unknown_key"),
    }
    for at, (body, _) in sorted(odd.items()):
        bodies.insert(at, body)

    async def send_all() -> tuple[list[httpx.Response], str]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(base_url=sidecar.url, timeout=30, limits=limits) as c:
            answers = await asyncio.gather(
                *(c.post("/v1/authorize", json=b, headers=ADMIN) for b in bodies)
            )
            return list(answers), (await c.get("/metrics", headers=ADMIN)).text

    answers, metrics = asyncio.run(send_all())
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers][:3]
    expected = {id(body): reason for body, reason in odd.values()}
    allowed_cost = 0
    for body, answer in zip(bodies, answers, strict=True):
        decision = answer.json()
        assert decision["reason"] == expected.get(id(body), "ok"), (body, decision)
        if decision["allowed"]:
            allowed_cost += decision["cost_micros"]
            assert decision["cost_micros"] > 0
    assert float(re.search(r"venice_authorize_batch_size_count (\S+)", metrics)[1]) < 300
    assert spent(redis_server.url, staker.address) - before == allowed_cost


def test_an_idle_connection_outlives_the_clients_pool_expiry(sidecar: Sidecar) -> None:
    """httpx (and so the ``openai`` client) drops an idle pooled connection after 5 s, which
    was uvicorn's own keep-alive: both sides closed at once, and a request sent just then (the
    batch test's /metrics after a 5 s batch, once in CI) failed with "server disconnected"
    unseen by the server. The sidecar now keeps an idle connection open longer than that."""
    assert httpx.Limits().keepalive_expiry + 5 < KEEP_ALIVE
    with socket.create_connection(("127.0.0.1", sidecar.port), timeout=10) as sock:
        assert get_on(sock, "/healthz").startswith(b"HTTP/1.1 200")
        time.sleep(httpx.Limits().keepalive_expiry + 0.5)
        assert get_on(sock, "/healthz").startswith(b"HTTP/1.1 200")


def test_a_key_limit_beyond_the_ledger_is_refused_at_issue(http: httpx.Client, staker: Any) -> None:
    challenge = http.post("/v1/auth/challenge", json={"address": staker.address}).json()
    body = {"address": staker.address, "signature": sign(staker, challenge["message"])}
    for limit in (2**63 - 1, 2**70, MAX_AMOUNT + 1):
        answer = http.post("/v1/auth/keys", json={**body, "daily_limit_micros": limit})
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"


# -------------------------------------------------------------------- 3. who may spend


def test_authorize_by_wallet_address_is_refused_and_debits_nothing(
    http: httpx.Client, staker: Any, redis_server: Any
) -> None:
    before = spent(redis_server.url, staker.address)
    body = {"who": staker.address, "model": "qwen3-4b", "input_tokens": 1_000}
    answer = http.post("/v1/authorize", json=body, headers=ADMIN).json()
    assert not answer["allowed"] and answer["reason"] == "wallet_not_allowed"
    assert spent(redis_server.url, staker.address) == before


@pytest.mark.parametrize(
    "route", ["/v1/authorize", "/v1/entitlements/0x" + "11" * 20, "/metrics", "/readyz"]
)
def test_internal_routes_require_the_admin_token(http: httpx.Client, route: str) -> None:
    method = http.post if route == "/v1/authorize" else http.get
    body = {"json": {"who": "vvk_x", "model": "m"}} if route == "/v1/authorize" else {}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Venice-Admin-Token": "x"}):
        answer = method(route, headers=headers, **body)
        assert answer.status_code == 401, (route, headers, answer.text)
        assert answer.json()["code"] == "admin_token_required"
    ok = method(route, headers={"X-Venice-Admin-Token": TOKEN}, **body)
    assert ok.status_code in (200, 404), ok.text  # /readyz: another part of issue 13


def test_public_routes_need_no_token(http: httpx.Client) -> None:
    assert http.get("/healthz").status_code == 200
    assert len(http.get("/v1/auth/siwe/nonce").json()["nonce"]) == 32


def test_serve_refuses_open_internal_routes_on_a_network_address(
    manifest: Path, chain: Any, tmp_path: Path
) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest)),
            *("--rpc", str(chain.provider.http_uri), "--host", "0.0.0.0"),
            *("--data-dir", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "admin token" in done.stderr


# -------------------------------------------------------------------------- 7. size limits


def test_a_20_mb_body_is_refused_unread_and_not_echoed(http: httpx.Client) -> None:
    who = "vvk_" + "a" * (20 << 20)
    start = time.perf_counter()
    answer = http.post("/v1/authorize", json={"who": who, "model": "m"}, headers=ADMIN)
    assert time.perf_counter() - start < 5
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"
    assert len(answer.content) < 200


def test_a_chunked_body_is_counted_as_it_streams(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(1_024):
            yield b"a" * 1_024
        yield b'", "signature": "0x00"}'

    answer = http.post(
        "/v1/auth/siwe", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["code"] == "body_too_large"


def test_every_string_field_is_bounded(http: httpx.Client, staker: Any) -> None:
    challenge = http.post("/v1/auth/challenge", json={"address": staker.address}).json()
    body = {"address": staker.address, "signature": sign(staker, challenge["message"])}
    answer = http.post("/v1/auth/keys", json={**body, "label": "x" * 1_000})
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_request"
    assert "x" * 300 not in answer.text  # the input is not echoed
    long_who = {"who": "vvk_" + "a" * 300, "model": "qwen3-4b"}
    assert http.post("/v1/authorize", json=long_who, headers=ADMIN).status_code == 422
    assert http.get("/v1/entitlements/0x" + "1" * 100, headers=ADMIN).status_code == 422
    assert http.post("/v1/auth/challenge", json={"address": "0x" * 100}).status_code == 422


# ------------------------------------------------------------------------ 8. smaller items


@pytest.mark.parametrize("value", ["10", True, 1.5, None, [1]])
def test_integers_are_strict(http: httpx.Client, value: Any) -> None:
    body = {"who": "vvk_x", "model": "qwen3-4b", "input_tokens": value}
    answer = http.post("/v1/authorize", json=body, headers=ADMIN)
    assert answer.status_code == 422
    error = answer.json()
    assert error["code"] == "invalid_request" and error["detail"][0]["loc"][-1] == "input_tokens"


def test_spent_and_remaining_describe_the_keys_budget(http: httpx.Client, staker: Any) -> None:
    key = issue_key(http, staker, daily_limit_micros=50_000)["key"]
    body = {"who": key, "model": "qwen3-4b", "input_tokens": 20_000}
    first = http.post("/v1/authorize", json=body, headers=ADMIN).json()
    assert first["allowed"] and first["daily_limit_micros"] == 50_000
    assert first["spent_micros"] == first["cost_micros"]
    assert first["spent_micros"] + first["remaining_micros"] == 50_000
    assert first["wallet_daily_limit_micros"] == 2 * USD
    assert (
        first["wallet_spent_micros"] + first["wallet_remaining_micros"]
        == first["wallet_daily_limit_micros"]
    )


def test_a_second_challenge_says_the_first_was_superseded(http: httpx.Client, staker: Any) -> None:
    first = http.post("/v1/auth/challenge", json={"address": staker.address}).json()
    second = http.post("/v1/auth/challenge", json={"address": staker.address}).json()
    body = {"address": staker.address, "signature": sign(staker, first["message"])}
    answer = http.post("/v1/auth/keys", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "challenge_superseded"
    body["signature"] = sign(staker, second["message"])
    assert http.post("/v1/auth/keys", json=body).status_code == 200


def siwe_message(http: httpx.Client, address: str, chain_id: int, **fields: Any) -> str:
    values: dict[str, Any] = {
        "domain": DOMAIN,
        "address": address,
        "uri": URI,
        "version": "1",
        "chain_id": chain_id,
        "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "nonce": http.get("/v1/auth/siwe/nonce").json()["nonce"],
        "statement": "Sign in to Venice.",
    }
    text: str = SiweMessage(**{**values, **fields}).prepare_message()
    return text


def test_siwe_sign_in_checks_the_uri_and_the_stake_and_returns_a_key(
    http: httpx.Client, staker: Any, bob: Any, chain: Any
) -> None:
    text = siwe_message(http, staker.address, chain.chain_id, uri="https://evil.example/")
    answer = http.post("/v1/auth/siwe", json={"message": text, "signature": sign(staker, text)})
    assert answer.status_code == 400 and answer.json()["code"] == "wrong_uri"
    text = siwe_message(http, staker.address, chain.chain_id)
    session = http.post("/v1/auth/siwe", json={"message": text, "signature": sign(staker, text)})
    assert session.status_code == 200, session.text
    assert session.json()["address"] == staker.address
    key = session.json()["key"]
    assert key.startswith("vvk_")
    body = {"who": key, "model": "qwen3-4b", "input_tokens": 10}
    assert http.post("/v1/authorize", json=body, headers=ADMIN).json()["allowed"]
    text = siwe_message(http, bob.address, chain.chain_id)
    refused = http.post("/v1/auth/siwe", json={"message": text, "signature": sign(bob, text)})
    assert refused.status_code == 400 and refused.json()["code"] == "no_stake"


def test_start_up_with_the_node_down_is_one_error_line(manifest: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest)),
            *("--rpc", "http://127.0.0.1:9", "--data-dir", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: the node at http://127.0.0.1:9 does not answer")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_every_answer_carries_a_request_id(http: httpx.Client) -> None:
    echoed = http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = http.get("/healthz", headers={"X-Request-Id": "bad id; drop"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])
    missing = http.get("/no/such/route")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_authorize_many__a_poisoned_request_is_refused_alone(
    manifest: Path, staker: Any, chain: Any, tmp_path: Path
) -> None:
    """The same on `Gatekeeper.authorize_many` directly, with inputs the HTTP models would
    refuse: wrong types, negative counts, an absurd stored key limit, a price beyond any
    ledger. Each gets its own refusal; the 290 ordinary requests are decided and debited as
    if the poison were not there."""
    from venice_sdk.auth import ApiKeyStore
    from venice_sdk.entitlements import EntitlementClient
    from venice_sdk.gate import Gatekeeper
    from venice_sdk.ledger import SQLiteLedger
    from venice_sdk.pricing import PriceBook

    client = EntitlementClient.from_manifest(manifest, str(chain.provider.http_uri), ttl=3600)
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    absurd = keys.issue(staker.address, True)
    with sqlite3.connect(tmp_path / "keys.sqlite3") as db:
        db.execute(
            "UPDATE api_keys SET daily_limit_micros = ? WHERE key_id = ?",
            (2**63 - 1, absurd.key_id),
        )
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    gate = Gatekeeper(client, ledger, PriceBook.default(), keys)
    a = staker.address
    requests: list[Any] = [(a, "qwen3-4b", 100 + i, 0, 0) for i in range(290)]
    poison: list[tuple[Any, str]] = [
        ((a, "qwen3-4b", "10", 0, 0), "bad_request"),
        ((a, "qwen3-4b", True, 0, 0), "bad_request"),
        ((a, "qwen3-4b", -1, 0, 0), "bad_request"),
        ((a, "qwen3-4b", 0, 2**62, 0), "bad_request"),
        ((None, "qwen3-4b", 1, 0, 0), "bad_request"),
        ((a, None, 1, 0, 0), "unknown_model"),
        ((absurd.key, "qwen3-4b", 10, 0, 0), "ok"),
        (("vvk_forged", "qwen3-4b", 10, 0, 0), "unknown_key"),
        (("0x12", "qwen3-4b", 10, 0, 0), "malformed_address"),
    ]
    for k, (request, _) in enumerate(poison):
        requests.insert(30 * k + 7, request)
    clean = Gatekeeper(client, SQLiteLedger(tmp_path / "clean.sqlite3"), PriceBook.default())
    expected = clean.authorize_many([r for r in requests if all(r is not p for p, _ in poison)])
    decisions = gate.authorize_many(requests)
    assert len(decisions) == len(requests) == 299
    ordinary = []
    for request, decision in zip(requests, decisions, strict=True):
        reason = next((why for p, why in poison if p is request), None)
        if reason is None:
            ordinary.append(decision)
        else:
            assert decision.reason == reason, (request, decision)
    assert [(d.allowed, d.cost) for d in ordinary] == [(d.allowed, d.cost) for d in expected]
    key_cost = next(d.cost for r, d in zip(requests, decisions, strict=True) if r[0] == absurd.key)
    assert ledger.spent(a) == sum(d.cost for d in ordinary if d.allowed) + key_cost
