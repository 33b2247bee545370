"""Fast transactions and calls for the tooling, straight through web3 on the node ape uses.

ape prepares each transaction with several round trips (gas estimate, fee data, trace); for
the thousands of transactions of the gas benchmarks' populations, the benchmarks' setup and
the simulator's chain backend, this binds the same deployed contracts to plain web3 against
the same provider and sends from the node's unlocked (or Anvil-impersonated) accounts. Nothing
here is used against a live network. The test-only helpers (snapshots, one-block batches, the
state machines' cached reads) are in `tests/support/chain.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from ape import chain
from ape.contracts import ContractContainer, ContractInstance
from eth_abi import decode as abi_decode
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import RPCEndpoint

__all__ = [
    "TX_GAS",
    "Receipt",
    "Reverted",
    "Transactable",
    "abi_of",
    "abi_type",
    "bind",
    "call_all",
    "decode_output",
    "frozen_clock",
    "impersonate",
    "mine",
    "on_change",
    "reason_from_output",
    "reason_of",
    "rpc_batch",
    "send",
    "web3",
]

TX_GAS = 3_000_000


class Reverted(Exception):
    """A transaction that reverted; `reason` is the contract's revert string."""

    def __init__(self, reason: str, gas_used: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.gas_used = gas_used


@dataclass
class Receipt:
    gas_used: int
    block_number: int
    timestamp: int
    logs: list[Any]


class Transactable(Protocol):
    """A bound call that can be sent: web3's `ContractFunction` or a test's fast call."""

    def transact(self, transaction: Any) -> Any: ...


_CLIENTS: dict[str, Web3] = {}
_SESSIONS: dict[str, requests.Session] = {}
# Called whenever `send` or `mine` changes the chain (the tests' read cache forgets).
_ON_CHANGE: list[Callable[[], None]] = []


def on_change(callback: Callable[[], None]) -> None:
    """Run `callback` before every `send` and `mine` (once per callback)."""
    if callback not in _ON_CHANGE:
        _ON_CHANGE.append(callback)


def _changed() -> None:
    for callback in _ON_CHANGE:
        callback()


def web3() -> Web3:
    """A lean client for the node ape is connected to: no middleware (no per-call chain-id
    validation round trip) and no proxy lookups from the environment on every request."""
    uri = str(chain.provider.http_uri)
    client = _CLIENTS.get(uri)
    if client is None:
        session = requests.Session()
        session.trust_env = False
        client = Web3(Web3.HTTPProvider(uri, session=session), middleware=[])
        _CLIENTS[uri] = client
        _SESSIONS[uri] = session
    return client


def abi_of(contract: ContractInstance | ContractContainer) -> list[dict[str, Any]]:
    """The contract type's ABI as plain JSON dicts, as web3 takes it."""
    return [entry.model_dump(mode="json", by_alias=True) for entry in contract.contract_type.abi]


def bind(contract: ContractInstance) -> Contract:
    """The same deployed contract as a web3 contract object."""
    address = Web3.to_checksum_address(str(contract.address))
    return web3().eth.contract(address=address, abi=abi_of(contract))


def rpc_batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """Raw JSON-RPC requests (method, params) in one batch: one round trip. The results, in
    order; an error reply raises `Reverted` with its message."""
    payload = [
        {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
        for i, (method, params) in enumerate(calls)
    ]
    uri = str(chain.provider.http_uri)
    web3()  # makes the session
    replies = sorted(_SESSIONS[uri].post(uri, json=payload, timeout=60).json(), key=_id)
    for reply in replies:
        if "error" in reply:
            raise Reverted(str(reply["error"].get("message", reply["error"])))
    return [reply["result"] for reply in replies]


def call_all(fns: list[ContractFunction]) -> list[Any]:
    """Many contract reads at the latest block in one batch, without web3's per-call
    preparation (about 10 ms a call here). A single return value comes back as itself,
    several as a tuple."""
    results = rpc_batch(
        [
            ("eth_call", [{"to": fn.address, "data": fn._encode_transaction_data()}, "latest"])
            for fn in fns
        ]
    )
    return [
        decode_output(fn, bytes.fromhex(result[2:]))
        for fn, result in zip(fns, results, strict=True)
    ]


def decode_output(fn: ContractFunction, data: bytes) -> Any:
    """A call's return data as values: a single one as itself, several as a tuple; addresses
    checksummed, as web3 and ape return them."""
    types = [abi_type(o) for o in fn.abi["outputs"]]
    values = [
        Web3.to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, abi_decode(types, data), strict=True)
    ]
    return values[0] if len(values) == 1 else tuple(values)


def _id(reply: dict[str, Any]) -> int:
    return int(reply["id"])


def abi_type(entry: Any) -> str:
    """The eth_abi type of an ABI input or output: tuples spelled out from their components."""
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in entry["components"])
        return f"({inner}){kind[5:]}"
    return kind


def send(fn: Transactable, sender: str, timestamp: int | None = None) -> Receipt:
    """Send from an unlocked dev account, mined at `timestamp` if given.

    A revert still mines (with a fixed gas limit, no estimate) and raises `Reverted` with the
    reason, read by replaying the call on the state it ran against.
    """
    w3 = web3()
    if timestamp is not None:
        w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
    _changed()
    tx_hash = fn.transact({"from": sender, "gas": TX_GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.005)
    if receipt["status"] != 1:
        raise Reverted(reason_of(tx_hash.hex()), receipt["gasUsed"])
    if timestamp is None:  # the node chose it: ask (otherwise it is the one we set)
        timestamp = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    return Receipt(
        gas_used=receipt["gasUsed"],
        block_number=receipt["blockNumber"],
        timestamp=timestamp,
        logs=list(receipt["logs"]),
    )


def reason_of(tx_hash: str) -> str:
    """The revert string of a mined, failed transaction, from the node's call tracer."""
    if not tx_hash.startswith("0x"):
        tx_hash = "0x" + tx_hash
    trace: dict[str, Any] = dict(
        web3().provider.make_request(
            RPCEndpoint("debug_traceTransaction"), [tx_hash, {"tracer": "callTracer"}]
        )
    )
    return reason_from_output(str(trace.get("result", {}).get("output") or ""))


def reason_from_output(output: str) -> str:
    """The revert string in a call's `0x`-hex output (as a node's tracer or an in-process EVM
    gives it), or what kind of revert it was."""
    if output.startswith("0x08c379a0"):
        data = bytes.fromhex(output[10:])
        (reason,) = abi_decode(["string"], data)
        return str(reason)
    return "reverted without a reason" if output in ("", "0x") else f"custom error {output[:10]}"


def mine(timestamp: int) -> None:
    """Mine an empty block at `timestamp`."""
    _changed()
    w3 = web3()
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@contextmanager
def frozen_clock(timestamp: int) -> Iterator[None]:
    """Every block mined inside (by ape's transactions too) is at `timestamp`, even one
    earlier than the node's last block (a fresh Anvil's clock can be set back); afterwards
    the node's clock runs on from there."""
    make = web3().provider.make_request
    make(RPCEndpoint("evm_setTime"), [timestamp])
    make(RPCEndpoint("anvil_setBlockTimestampInterval"), [0])
    try:
        yield
    finally:
        make(RPCEndpoint("anvil_removeBlockTimestampInterval"), [])


def impersonate(address: str) -> None:
    """Let `send` sign for `address` (Anvil impersonation) and give it 1 ETH for gas."""
    w3 = web3()
    w3.provider.make_request("anvil_impersonateAccount", [address])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_setBalance", [address, hex(10**18)])  # type: ignore[arg-type]
