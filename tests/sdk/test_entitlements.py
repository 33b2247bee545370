"""venice_sdk's EntitlementClient against the deployed suite on Anvil: every field for stakers,
DIEM stakers, subscribers and nobodies; batches of 1,000 cold wallets in one eth_call; the
cache, stale-while-error and fail-closed behaviour under a node that times out, answers HTTP
500 or malformed JSON; a reorg (snapshot and revert); invalidation from events; and the ABIs
the package ships equal what the contracts compile to."""

from __future__ import annotations

import json
import threading
import time
import types
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_utils import to_checksum_address
from web3 import Web3

from tests.support.constants import USDC, VVV
from venice_ops.deploy.abis import SHIPPED, compiled_abi
from venice_sdk.entitlements import (
    EntitlementClient,
    EntitlementError,
    EntitlementUnavailable,
    daily_credit_micros,
    load_abi,
)
from venice_sdk.gate import ActiveStake
from venice_sdk.ledger import SQLiteLedger


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class FlakyNode:
    """An HTTP JSON-RPC proxy in front of Anvil that can time out, fail or send garbage."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        # ok | timeout | http500 | garbage | error (a JSON-RPC error) | empty (the "0x" of a
        # lens without code) | slow (0.3 s, then ok)
        self.mode = "ok"
        self.methods: list[str] = []  # of the requests received
        self.bodies: list[dict[str, Any]] = []
        self.mine_after_call = False  # mine a block after each eth_call answered
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                node.bodies.append(json.loads(body))
                node.methods.append(node.bodies[-1].get("method"))
                if node.mode == "slow":
                    threading.Event().wait(0.3)
                if node.mode == "timeout":
                    threading.Event().wait(1.5)
                    return
                if node.mode == "http500":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"internal error")
                    return
                if node.mode == "garbage":
                    payload = b'{"jsonrpc": "2.0", "id": 1, "result": '
                elif node.mode == "error":
                    payload = (
                        b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, '
                        b'"message": "header not found"}}'
                    )
                elif node.mode == "empty":
                    payload = b'{"jsonrpc": "2.0", "id": 1, "result": "0x"}'
                else:
                    request = urllib.request.Request(
                        node.upstream, body, {"Content-Type": "application/json"}
                    )
                    with urllib.request.urlopen(request, timeout=10) as response:
                        payload = response.read()
                    if node.mine_after_call and node.methods[-1] == "eth_call":
                        node.mine()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mine(self) -> None:
        mine = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []})
        request = urllib.request.Request(
            self.upstream, mine.encode(), {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).close()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def rpc_url(chain):
    return str(chain.provider.http_uri)


@pytest.fixture
def manifest(tmp_path, suite, config):
    from venice_ops.deploy.suite import write_manifest

    return write_manifest(suite, config, tmp_path)


@pytest.fixture
def client(manifest, rpc_url):
    return EntitlementClient.from_manifest(manifest, rpc_url, ttl=0)


@pytest.fixture
def people(suite, fund, fund_usdc, owner, alice, bob, carol):
    """alice stakes and mints DIEM and stakes it; bob subscribes; carol stakes 50 VVV."""
    staking, diem, subs = suite.staking, suite.diem, suite.subscriptions
    fund(alice, 100_000 * VVV)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.mintDiem(10_000 * VVV, 0, sender=alice)
    diem.stake(50 * VVV, sender=alice)
    diem.initiateUnstake(5 * VVV, sender=alice)
    staking.initiateUnstake(1_000 * VVV, sender=alice)
    fund_usdc(bob, 100 * USDC, spender=subs)
    subs.subscribe(0, 2, bob, sender=bob)
    fund(carol, 50 * VVV)
    staking.stake(carol, 50 * VVV, sender=carol)
    return {"alice": alice, "bob": bob, "carol": carol}


def test_get__every_field_matches_the_contracts(chain, suite, client, people, attacker):
    staking, diem, subs = suite.staking, suite.diem, suite.subscriptions
    for account in (*people.values(), attacker):
        e = client.get(account.address)
        locked, _ = staking.lockedStakes(account)
        cooling, unlock = staking.cooldowns(account)
        diem_staked, diem_end, diem_cooling = diem.stakedInfos(account)
        assert e.address == account.address
        assert e.block == chain.blocks.head.number
        assert e.timestamp == chain.blocks.head.timestamp
        assert (e.staked, e.locked) == (staking.balanceOf(account), locked)
        assert (e.cooling, e.unlock_time) == (cooling, unlock)
        assert e.pending_rewards == staking.pendingRewards(account)
        assert e.pro_by_stake == staking.isPro(account)
        assert e.pro_until == subs.proUntil(account)
        assert (e.diem_staked, e.diem_cooling, e.diem_cooldown_end) == (
            diem_staked,
            diem_cooling,
            diem_end,
        )
        assert e.is_pro == subs.isPro(account)
        assert e.total_staked == staking.totalStaked()
        assert not e.stale and not e.degraded


def test_get__what_each_kind_of_wallet_is_entitled_to(client, people, attacker):
    alice, bob, carol = (client.get(people[n].address) for n in ("alice", "bob", "carol"))
    assert alice.pro_reason == "stake" and alice.daily_credit == 45 * USDC  # 45 DIEM staked
    assert alice.locked > 0 and alice.cooling == 1_000 * VVV and alice.diem_cooling == 5 * VVV
    assert bob.pro_reason == "subscription" and bob.daily_credit == 0 and bob.staked == 0
    assert carol.staked == 50 * VVV and not carol.is_pro and carol.daily_credit == 0
    nobody = client.get(attacker.address)
    assert (nobody.staked, nobody.is_pro, nobody.daily_credit, nobody.pro_reason) == (
        0,
        False,
        0,
        "",
    )


def test_credit__none_under_a_tenth_of_a_diem_and_exact_above():
    assert daily_credit_micros(10**17 - 1) == 0
    assert daily_credit_micros(10**17) == 100_000  # $0.10
    assert daily_credit_micros(12_345_678 * 10**12 + 999) == 12_345_678


def test_vcu__share_of_capacity_among_active_stakers(client, people):
    carol = client.get(people["carol"].address)
    # carol's 50 VVV among 1,000 VVV of active stake: 5% of 181,480 VCU.
    assert carol.vcu_allocation(1_000 * VVV, 181_480) == 9_074
    assert carol.vcu_allocation(0, 181_480) == 0


def test_get_many__1000_cold_wallets_in_one_call(client, people):
    wallets = [to_checksum_address((0x7000 + i).to_bytes(20, "big")) for i in range(997)]
    wallets += [a.address for a in people.values()]
    before = client.rpc_calls
    results = client.get_many(wallets)
    assert client.rpc_calls - before == 1
    assert [r.address for r in results] == wallets
    assert results[-1].staked == 50 * VVV


def test_get_many__wallets_read_in_several_calls_are_read_at_one_block(manifest, rpc_url, people):
    """More wallets than the lens takes in a call (MAX_BATCH) are read in several calls; a
    block mined between them does not split the answer: every call reads the block "latest"
    named before the first (before, each read "latest", and the wallets came from two blocks)."""
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=0)
        wallets = [to_checksum_address((0x7000 + i).to_bytes(20, "big")) for i in range(1_200)]
        wallets += [a.address for a in people.values()]
        node.mine_after_call = True
        results = client.get_many(wallets)
        node.mine_after_call = False
        calls = [body["params"][1] for body in node.bodies if body["method"] == "eth_call"]
        block = results[0].block
        assert calls == [hex(block), hex(block)]
        assert {r.block for r in results} == {block}
        assert [r.address for r in results] == wallets and results[-1].staked == 50 * VVV
        assert client.get(wallets[0]).block > block  # the node did move on
    finally:
        node.close()


def test_active_stake__wallets_of_several_calls_are_summed_at_one_block(
    manifest, rpc_url, people, tmp_path
):
    """VCU mode's active stake sliced its wallets by 1,000 and read each slice at its own
    'latest', so a block mined between slices summed two blocks (a stake moved between them
    counted twice, or not at all); now one get_many, at one block."""
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=0)
        ledger = SQLiteLedger(tmp_path / "ledger.db")
        for i in range(1_200):
            ledger.record_activity(to_checksum_address((0x7000 + i).to_bytes(20, "big")))
        for account in people.values():
            ledger.record_activity(account.address)
        node.mine_after_call = True
        total = ActiveStake(client, ledger)()
        node.mine_after_call = False
        calls = [body["params"][1] for body in node.bodies if body["method"] == "eth_call"]
        assert len(calls) == 2 and calls[0] == calls[1] != "latest", calls  # (before: 'latest')
        assert total == sum(client.get(a.address).staked for a in people.values()) > 0
    finally:
        node.close()


def test_get_many__several_calls_read_the_nodes_block_not_the_lens_number(
    manifest, rpc_url, people, monkeypatch
):
    """The block several calls read is the node's number for the tag, asked first, not the
    lens's blockNumber: that is the EVM's block.number, which on Arbitrum is L1's (a block
    the chain has not reached, or an old one). Here the lens's answer names another number
    (before, the second call asked the node for it, and the read failed closed)."""
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=0)
    head = Web3(Web3.HTTPProvider(rpc_url)).eth.block_number
    real, asked = client._call_lens, []

    def l1_numbered(batch, block):
        asked.append(block)
        totals, accounts = real(batch, block)
        return (totals[0] + 1_000_000, *totals[1:]), accounts

    monkeypatch.setattr(client, "_call_lens", l1_numbered)
    wallets = [to_checksum_address((0x7000 + i).to_bytes(20, "big")) for i in range(1_200)]
    wallets += [a.address for a in people.values()]
    results = client.get_many(wallets)
    assert asked == [head, head]
    assert [r.address for r in results] == wallets and results[-1].staked == 50 * VVV


def test_get__malformed_address_refused_with_a_code(client):
    for bad in ("0x123", "not an address", "0x" + "g" * 40):
        with pytest.raises(EntitlementError) as info:
            client.get(bad)
        assert info.value.code == "malformed_address"


def test_cache__serves_within_ttl_without_rpc(manifest, rpc_url, people):
    clock = Clock()
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=2.0, clock=clock)
    alice = people["alice"].address
    first = client.get(alice)
    calls = client.rpc_calls
    for _ in range(100):
        assert client.get(alice) is first
    assert client.rpc_calls == calls
    clock.now += 2.5
    client.get(alice)
    assert client.rpc_calls == calls + 1


def test_refresh__reads_again_while_the_cached_entry_is_served(manifest, rpc_url, people):
    clock = Clock()
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=2.0, clock=clock)
    alice = people["alice"].address
    assert client.expires_in(alice) is None  # nothing cached
    first = client.get(alice)
    clock.now += 1.5
    assert client.expires_in(alice) == pytest.approx(0.5)
    calls = client.rpc_calls
    client.refresh([alice.lower()])  # as a server sees it: any case
    assert client.rpc_calls == calls + 1
    assert client.expires_in(alice) == pytest.approx(2.0)  # fresh for a whole TTL again
    assert client.cached(alice) == first and client.cached(alice.lower()) == first
    clock.now += 2.5
    assert client.expires_in(alice) is None and client.cached(alice) is None


@pytest.mark.parametrize("down", [False, True], ids=["node-up", "node-down"])
def test_cache__threads_missing_one_wallet_make_one_read(manifest, rpc_url, people, down):
    """8 server threads asking at once for a wallet not cached wait for one read of the node
    (each made its own: a burst after a quiet spell multiplied the node's load by the burst);
    if that read fails, each fails with the node's reason, and the breaker spares the node."""
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=2.0, clock=Clock())
        node.mode = "timeout" if down else "slow"
        alice = people["alice"].address
        results: list[object] = []

        def ask() -> None:
            try:
                results.append(client.get(alice))
            except EntitlementUnavailable as exc:
                results.append(exc.code)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if down:
            assert results == ["rpc_unavailable"] * 8
            # one read and its one retry; the breaker then answers the others at once
            assert node.methods.count("eth_call") <= 2, node.methods
        else:
            assert len(results) == 8 and all(r is results[0] for r in results)
            assert node.methods.count("eth_call") == 1 and client.rpc_calls == 1, node.methods
    finally:
        node.close()


@pytest.mark.parametrize("down", [False, True], ids=["node-up", "node-down"])
def test_cache__threads_missing_different_wallets_share_reads(manifest, rpc_url, people, down):
    """16 server threads each asking for a different wallet not cached, while a read of the
    node is under way: the first read has the first wallet, the next one the 15 that came
    meanwhile (each thread made a call of its own: a read is most of a millisecond of Python
    per call, so a server's CPU grew with its wallets). Each thread gets its own wallet's
    entitlement; if the node is down, each fails with the node's reason, the breaker sparing
    the node."""
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=2.0, clock=Clock())
        node.mode = "timeout" if down else "slow"
        wallets = [people["alice"].address] + [f"0x{0x7000 + i:040x}" for i in range(15)]
        results: dict[str, object] = {}

        def ask(wallet: str) -> None:
            try:
                results[wallet] = client.get(wallet)
            except EntitlementUnavailable as exc:
                results[wallet] = exc.code

        first = threading.Thread(target=ask, args=(wallets[0],))
        first.start()
        deadline = time.monotonic() + 5
        while "eth_call" not in node.methods:  # the first read under way
            assert time.monotonic() < deadline
            time.sleep(0.01)
        threads = [threading.Thread(target=ask, args=(w,)) for w in wallets[1:]]
        for t in threads:
            t.start()
        for t in [first, *threads]:
            t.join(30)
        if down:
            assert set(results.values()) == {"rpc_unavailable"} and len(results) == 16
            assert node.methods.count("eth_call") <= 2, node.methods  # a read, its retry
        else:
            assert node.methods.count("eth_call") == 2, node.methods
            assert all(results[w].address == to_checksum_address(w) for w in wallets)  # type: ignore[union-attr]
            assert results[wallets[0]].staked > 0  # type: ignore[union-attr]
            assert all(results[w].staked == 0 for w in wallets[1:])  # type: ignore[union-attr]
    finally:
        node.close()


@pytest.mark.parametrize("mode", ["timeout", "http500", "garbage", "error", "empty"])
def test_faults__stale_within_grace_then_fail_closed(mode, manifest, rpc_url, people):
    node = FlakyNode(rpc_url)
    try:
        clock = Clock()
        client = EntitlementClient.from_manifest(
            manifest, node.url, ttl=2.0, grace=60.0, clock=clock, timeout=0.5
        )
        alice = people["alice"].address
        fresh = client.get(alice)
        node.mode = mode
        clock.now += 30  # past the TTL, within the grace
        stale = client.get(alice)
        assert stale.stale and stale.reason == "rpc_unavailable"
        assert stale.staked == fresh.staked
        clock.now += 40  # past TTL + grace
        with pytest.raises(EntitlementUnavailable) as info:
            client.get(alice)
        assert info.value.code == "rpc_unavailable"
        # A wallet never seen: nothing to serve, fail closed at once.
        with pytest.raises(EntitlementUnavailable):
            client.get(people["bob"].address)
        # The node recovers: after the breaker's cool-off (2 s) answers are fresh again.
        node.mode = "ok"
        clock.now += 2
        assert not client.get(alice).stale
    finally:
        node.close()


def test_read__one_eth_call_and_nothing_else(manifest, rpc_url, people):
    """A read is the lens's eth_call alone (no chain id asked on the side, as web3's contract
    calls do), at the block asked for, decoded to the same values as web3's contract call."""
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=0, confirmations=1)
        alice = people["alice"].address
        got = client.get(alice)
        assert node.methods == ["eth_blockNumber", "eth_call"]
        lens = Web3(Web3.HTTPProvider(rpc_url)).eth.contract(
            address=client.lens.address, abi=load_abi("EntitlementsLens")
        )
        totals, rows = lens.functions.entitlements([alice]).call(block_identifier=got.block)
        assert (got.block, got.timestamp, got.total_staked) == tuple(totals[:3])
        assert (got.staked, got.locked, got.cooling, got.unlock_time, got.pending_rewards,
                got.pro_by_stake, got.pro_until, got.diem_staked, got.diem_cooling,
                got.diem_cooldown_end) == tuple(rows[0])  # fmt: skip
        assert got.staked > 0 and got.diem_staked > 0
    finally:
        node.close()


def test_faults__fail_open_when_configured(manifest, rpc_url, people):
    node = FlakyNode(rpc_url)
    try:
        client = EntitlementClient.from_manifest(manifest, node.url, ttl=0, fail_open=True)
        node.mode = "http500"
        e = client.get(people["alice"].address)
        assert e.degraded and e.reason == "rpc_unavailable" and e.staked == 0
    finally:
        node.close()


def test_reorg__a_reverted_stake_disappears_after_the_ttl(
    chain, suite, manifest, rpc_url, fund, bob
):
    clock = Clock()
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=2.0, clock=clock)
    fund(bob, 500 * VVV)
    snapshot = chain.snapshot()
    suite.staking.stake(bob, 500 * VVV, sender=bob)
    assert client.get(bob.address).staked == 500 * VVV
    chain.restore(snapshot)  # the block with the stake is gone
    assert client.get(bob.address).staked == 500 * VVV  # cached, within the TTL
    clock.now += 2.5
    assert client.get(bob.address).staked == 0


def test_confirmations__a_new_stake_counts_once_buried(chain, suite, manifest, rpc_url, fund, bob):
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=0, confirmations=2)
    fund(bob, 500 * VVV)
    suite.staking.stake(bob, 500 * VVV, sender=bob)
    assert client.get(bob.address).staked == 0
    chain.mine(2)
    assert client.get(bob.address).staked == 500 * VVV


def test_events__invalidate_within_a_block(suite, manifest, rpc_url, fund, bob):
    clock = Clock()
    client = EntitlementClient.from_manifest(manifest, rpc_url, ttl=3_600.0, clock=clock)
    client.poll_events()  # start watching from the head
    assert client.get(bob.address).staked == 0
    fund(bob, 500 * VVV)
    suite.staking.stake(bob, 500 * VVV, sender=bob)
    assert client.get(bob.address).staked == 0  # cached for an hour...
    assert client.poll_events() >= 1
    assert client.get(bob.address).staked == 500 * VVV  # ...unless an event says otherwise


@pytest.mark.parametrize("option", ["ttl", "grace"])
@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_client__a_negative_or_nan_cache_time_is_refused(manifest, rpc_url, option, value):
    """nan passed the check (every comparison false) and cached nothing: every check read the
    node."""
    with pytest.raises(ValueError, match="must be numbers, 0 or more"):
        EntitlementClient.from_manifest(manifest, rpc_url, **{option: value})


def test_from_manifest__bad_file_is_a_clear_error(tmp_path, rpc_url):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"contracts": {}}))
    with pytest.raises(EntitlementError) as info:
        EntitlementClient.from_manifest(path, rpc_url)
    assert info.value.code == "bad_manifest"


@pytest.mark.parametrize("name", SHIPPED)
def test_abis__shipped_equal_compiled(name):
    assert load_abi(name) == compiled_abi(name)


def test_lens__one_call_reads_the_same_as_separate_calls(suite, people, rpc_url):
    web3 = Web3(Web3.HTTPProvider(rpc_url))
    lens = web3.eth.contract(address=suite.lens.address, abi=load_abi("EntitlementsLens"))
    totals, rows = lens.functions.entitlements([people["carol"].address]).call()
    assert rows[0][0] == suite.staking.balanceOf(people["carol"])
    assert totals[2] == suite.staking.totalStaked()


def _canned_lens(w3: Web3, answer: bytes) -> str:
    """A contract on ``w3``'s chain that answers every call with ``answer``."""
    # runtime: CODECOPY the answer (after these 15 bytes) to memory 0, RETURN it
    size = len(answer).to_bytes(2, "big")
    runtime = bytes.fromhex(f"61{size.hex()}61000f600039{'61' + size.hex()}6000f3") + answer
    length = len(runtime).to_bytes(2, "big").hex()
    init = bytes.fromhex(f"61{length}600e600039{'61' + length}6000f3")  # 14 bytes
    sent = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": init + runtime})
    return str(w3.eth.wait_for_transaction_receipt(sent)["contractAddress"])


def test_read__through_a_provider_that_is_not_json_rpc():
    """A Web3 over eth-tester (as ape's ``test`` network's), whose provider answers in Python
    and needs its own middleware (the call's ``from``), reads and probes as over HTTP."""
    from eth_abi import encode
    from web3 import EthereumTesterProvider

    w3 = Web3(EthereumTesterProvider())
    row = (10, 20, 30, 40, 50, True, 60, 70, 80, 90)
    abi = next(f for f in load_abi("EntitlementsLens") if f.get("name") == "entitlements")
    types = [
        "(" + ",".join(c["type"] for c in o["components"]) + ")" + o["type"][len("tuple") :]
        for o in abi["outputs"]
    ]
    lens = _canned_lens(w3, encode(types, [(7, 8, 9, 0, 0), [row]]))
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 1})
    alice = w3.eth.accounts[2]
    for confirmations in (0, 1):
        client = EntitlementClient(w3, lens, ttl=0, confirmations=confirmations)
        got = client.get(alice)
        assert (got.block, got.timestamp, got.total_staked) == (7, 8, 9)
        assert (got.staked, got.pro_by_stake, got.diem_cooldown_end) == (10, True, 90)
        assert client.probe() == {"chain_id": w3.eth.chain_id, "block": 7}


def _offline_client(reads: list[list[str]], gate: threading.Event, **options) -> EntitlementClient:
    """A client on no node whose reads of the chain are recorded in ``reads`` and wait for
    ``gate``; each wallet's stake is its address's number (to tell one wallet from another)."""
    from venice_sdk.entitlements import Entitlement

    client = EntitlementClient(
        Web3(Web3.HTTPProvider("http://127.0.0.1:9")), "0x" + "11" * 20, **options
    )

    def read(addresses: list[str]) -> dict[str, Entitlement]:
        reads.append(list(addresses))
        assert gate.wait(5)
        return {
            a: Entitlement(a, 1, 1, int(a, 16), 0, 0, 0, 0, False, 0, 0, 0, 0, 0) for a in addresses
        }

    client._read = read  # type: ignore[method-assign]
    return client


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_cache__a_read_ending_as_a_thread_looks_at_it_wakes_the_thread(monkeypatch):
    """A thread waiting for another thread's read of its wallet, that read ending just after
    the thread saw it not ended and before the thread waited for its end, is not left waiting
    half a second for a wake-up already sent (it looked outside the lock)."""
    import venice_sdk.entitlements as module

    reads: list[list[str]] = []
    gate = threading.Event()
    client = _offline_client(reads, gate, ttl=2.0, clock=Clock())
    lock = client._reading_lock

    class LateEvent(threading.Event):
        def is_set(self) -> bool:
            state = super().is_set()
            if not state and threading.current_thread().name == "waiter" and not gate.is_set():
                gate.set()  # the read ends now, as the waiter looks
                if not lock.locked():  # (looking outside the lock: let it end first)
                    super().wait(5)
            return state

    monkeypatch.setattr(module, "threading", types.SimpleNamespace(Event=LateEvent))
    alice = to_checksum_address("0x" + "a1" * 20)
    ended: dict[str, float] = {}

    def ask(name: str) -> None:
        assert client.get(alice).staked == int(alice, 16)
        ended[name] = time.monotonic()

    reader = threading.Thread(target=ask, args=("reader",))
    reader.start()
    _wait_for(lambda: reads)  # its read under way
    waiter = threading.Thread(target=ask, args=("waiter",), name="waiter")
    waiter.start()
    reader.join(10)
    waiter.join(10)
    assert reads == [[alice]]
    assert ended["waiter"] - ended["reader"] < 0.4, ended  # (not its wait's 0.5 s cap)


@pytest.mark.parametrize("ttl", [0.0, 2.0])
def test_cache__threads_sharing_a_read_take_its_answer_even_with_nothing_cached(ttl):
    """With ``ttl=0`` (nothing cached: `keys_cli`'s client, a server that must see every
    change) a thread whose wallet another thread's read brought takes that answer: it read it
    again (the cache had nothing fresh to give), a call more per thread and twice the wait."""
    reads: list[list[str]] = []
    gate = threading.Event()
    client = _offline_client(reads, gate, ttl=ttl, clock=Clock())
    wallets = [to_checksum_address(f"0x{0x7000 + i:040x}") for i in range(4)]
    got: dict[str, int] = {}

    def ask(wallet: str) -> None:
        got[wallet] = client.get(wallet).staked

    first = threading.Thread(target=ask, args=(wallets[0],))
    first.start()
    _wait_for(lambda: reads)  # the first read under way
    others = [threading.Thread(target=ask, args=(w,)) for w in wallets[1:]]
    for t in others:
        t.start()
    _wait_for(lambda: len(client._queue) == 3)  # the others' wallets queued for the next
    gate.set()
    for t in [first, *others]:
        t.join(10)
    assert got == {w: int(w, 16) for w in wallets}
    assert len(reads) == 2 and sorted(reads[1]) == sorted(wallets[1:]), reads


def test_read__a_node_without_the_lens_says_so(tmp_path, rpc_url):
    """A manifest of another chain (or of a node since restarted) read through --rpc: the lens
    has no code there, and the error was eth_abi's "InsufficientDataBytes: Tried to read 32
    bytes, only got 0 bytes"; now it says the lens is not on that node and what to check."""
    path = tmp_path / "m.json"
    lens = {"address": "0x" + "e1" * 20}
    path.write_text(json.dumps({"chain_id": 8453, "contracts": {"EntitlementsLens": lens}}))
    client = EntitlementClient.from_manifest(path, rpc_url, ttl=0, rpc_retries=0)
    with pytest.raises(EntitlementUnavailable) as info:
        client.get("0x" + "ab" * 20)
    message = str(info.value)
    assert "no contract at 0x" in message and "check --rpc" in message, message
    assert "InsufficientDataBytes" not in message


def test_serve__a_node_of_another_chain_is_one_error_line(tmp_path, rpc_url, capsys):
    """`serve` asked the node its chain id at start-up and went on when it was not the
    manifest's, answering every request rpc_unavailable; now it says so and exits 1."""
    from venice_sdk.cli import main

    path = tmp_path / "m.json"
    lens = {"address": "0x" + "e1" * 20}
    path.write_text(json.dumps({"chain_id": 8453, "contracts": {"EntitlementsLens": lens}}))
    argv = ["serve", "--manifest", str(path), "--rpc", rpc_url, "--data-dir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "is chain 31337" in err and "8453" in err, err


def test_serve__a_port_in_use_is_one_error_line(tmp_path, rpc_url):
    """As the gateway's: uvicorn's own was a logged ``[Errno 98] error while attempting to
    bind`` and exit code 3."""
    import socket
    import subprocess
    import sys

    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"contracts": {"EntitlementsLens": {"address": "0x' + "e1" * 20 + '"}}}')
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cmd = [
            sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest),
            "--rpc", rpc_url, "--port", str(port), "--data-dir", str(tmp_path),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: it is in use\n"
