"""Test-only chain helpers on top of `venice_ops.rpc`: snapshots and what-ifs, several
transactions in one block, revert reasons, storage roots, and the state machines' cached,
batched reads (`bind_fast`).

The tooling's fast sends and reads (`bind`, `send`, `call_all`, `mine`, `impersonate`,
`Reverted`) stay in `venice_ops.rpc`; every `send` and `mine` there clears the read cache here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from ape import chain
from ape.contracts import ContractContainer, ContractInstance
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from venice_ops.rpc import TX_GAS, Reverted, abi_of, abi_type, on_change, reason_of, rpc_batch, web3


def deploy(container: ContractContainer, *args: Any, sender: str) -> Contract:
    """Deploy a project contract from an unlocked dev account, bound for web3 only: ape never
    sees the address, so its cache of contract types by address cannot mistake a later
    deployment (at an address an isolated, reverted test reused) for this one."""
    w3 = web3()
    bytecode = container.contract_type.deployment_bytecode.bytecode  # type: ignore[union-attr]
    factory = w3.eth.contract(abi=abi_of(container), bytecode=bytecode)
    tx_hash = factory.constructor(*args).transact({"from": sender, "gas": 8_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.005)
    if receipt["status"] != 1:
        raise Reverted(reason_of(tx_hash.hex()), receipt["gasUsed"])
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi_of(container))


def refused_until(at: Any, end: int, send: Any, reason: str) -> Any:
    """A timer's last second: ``send()`` reverts with ``reason`` at ``end - 1`` and goes through
    at ``end`` (``at`` is the fixture fixing the next transaction's time); its receipt."""
    import ape

    at(end - 1)
    with ape.reverts(reason):
        send()
    at(end)
    return send()


def refused_changing_nothing(storage_roots: Any, reason: str | None, send: Any) -> None:
    """``send()`` reverts with ``reason`` and the suite's stored state is as it was
    (``storage_roots`` is the fixture reading every contract's storage root; a ``reason`` of
    None: any revert)."""
    import ape

    roots = storage_roots()
    with ape.reverts(reason):
        send()
    assert storage_roots() == roots


def revert_reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, ContractLogicError) and exc.message:
        text = exc.message
    for prefix in ("execution reverted: ", "execution reverted:"):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return text.strip()


def storage_roots(addresses: list[str]) -> list[bytes]:
    """The storage roots of several contracts in one batch (see `storage_root`)."""
    results = rpc_batch([("eth_getProof", [a, [], "latest"]) for a in addresses])
    return [bytes.fromhex(r["storageHash"][2:]) for r in results]


def in_one_block(
    calls: list[tuple[ContractFunction, str]], timestamp: int | None = None
) -> list[Any]:
    """Send the calls (function, sender) in this order into one block (automine off), mine it,
    and return the receipts (a revert is a receipt with status 0; `traced_reason` reads it)."""
    w3 = web3()
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        hashes = []
        nonces: dict[str, int] = {}
        for fn, sender in calls:
            nonce = nonces.get(sender, w3.eth.get_transaction_count(sender, "pending"))  # type: ignore[arg-type]
            nonces[sender] = nonce + 1
            hashes.append(fn.transact({"from": sender, "gas": TX_GAS, "nonce": nonce}))  # type: ignore[typeddict-item]
        if timestamp is not None:
            w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
    assert len({r["blockNumber"] for r in receipts}) == 1
    return receipts


def traced_reason(receipt: Any) -> str:
    """The revert string of a mined, failed transaction's receipt."""
    return reason_of(receipt["transactionHash"].hex())


def now() -> int:
    """The latest block's timestamp."""
    return int(web3().eth.get_block("latest")["timestamp"])


def snapshot() -> str:
    """An Anvil snapshot of the chain; `revert` to it consumes it."""
    return str(web3().provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]


def revert(snapshot_id: str) -> None:
    result = web3().provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
    assert result.get("result") is True, f"evm_revert {snapshot_id}: {result}"


@contextmanager
def rewound() -> Iterator[None]:
    """Whatever the block does to the chain is undone after it (one hypothesis example, one
    what-if)."""
    snap = snapshot()
    try:
        yield
    finally:
        revert(snap)


def storage_root(address: str) -> bytes:
    """The storage root of `address` (eth_getProof): equal roots mean every stored value of
    the contract is the same."""
    return bytes(web3().eth.get_proof(address, [], "latest")["storageHash"])  # type: ignore[arg-type]


# --- Reads for the state machines: ABI-encoded by hand, fetched in JSON-RPC batches ---------
#
# A state machine re-reads the same few hundred views after every step. Through web3 each
# costs milliseconds of Python (contract function objects, formatters) and one HTTP round
# trip; here a call is a selector and eth_abi types computed once, and the views read after
# one step are fetched in one batch on the first read after the next state change.


class CallFailed(Exception):
    """A view that reverted; `reason` is the node's message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _as_abi(entry: dict[str, Any], value: Any) -> Any:
    """What web3 accepts, for eth_abi: structs given as dicts become tuples, hex strings
    given for bytes become bytes."""
    kind = str(entry["type"])
    if kind.endswith("]"):
        inner = {**entry, "type": kind[: kind.rindex("[")]}
        return [_as_abi(inner, v) for v in value]
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    if not kind.startswith("tuple"):
        return value
    comps = entry["components"]
    if isinstance(value, dict):
        value = [value[c["name"]] for c in comps]
    return tuple(_as_abi(c, v) for c, v in zip(comps, value, strict=True))


def _checksum_outputs(types: list[str], values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        Web3.to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, values, strict=True)
    )


class Reader:
    """eth_call results per state: cleared by every `send`, `mine` and `invalidate()`; the
    keys read in the previous state are fetched together on the first read in a new one."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], Any] = {}
        self.used: list[tuple[str, str]] = []
        self.previous: list[tuple[str, str]] = []
        self._session: requests.Session | None = None

    def invalidate(self) -> None:
        self.cache.clear()
        if self.used:
            self.previous, self.used = self.used, []

    def _post(self, keys: list[tuple[str, str]]) -> None:
        if self._session is None:
            self._session = requests.Session()
            self._session.trust_env = False
        uri = str(chain.provider.http_uri)  # type: ignore[attr-defined]
        batch = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [{"to": a, "data": d}]}
            for i, (a, d) in enumerate(keys)
        ]
        for reply in self._session.post(uri, json=batch, timeout=60).json():
            key = keys[reply["id"]]
            if "error" in reply:
                self.cache[key] = CallFailed(revert_reason(Exception(reply["error"]["message"])))
            else:
                self.cache[key] = bytes.fromhex(reply["result"][2:])

    def read(self, key: tuple[str, str]) -> bytes:
        if key not in self.cache:
            wanted = [k for k in dict.fromkeys([*self.previous, key]) if k not in self.cache]
            self.previous = []
            self._post(wanted)
        self.used.append(key)
        result = self.cache[key]
        if isinstance(result, CallFailed):
            raise result
        return bytes(result)


READER = Reader()


on_change(READER.invalidate)


def invalidate() -> None:
    """Forget cached reads: call after changing the chain other than by `send` or `mine`
    (a snapshot restore, an ape transaction)."""
    READER.invalidate()


@dataclass
class FastCall:
    """One call of a bound function: `.call()` reads through `READER`; `send` transacts it."""

    address: str
    data: str
    outputs: list[str]
    fn_name: str

    def call(self) -> Any:
        values = _checksum_outputs(self.outputs, abi_decode(self.outputs, self.read()))
        return values[0] if len(values) == 1 else list(values)

    def read(self) -> bytes:
        return READER.read((self.address, self.data))

    def transact(self, tx: dict[str, Any]) -> Any:
        return web3().eth.send_transaction({**tx, "to": self.address, "data": self.data})  # type: ignore[typeddict-item]


class FastFunctions:
    """`contract.functions` with `FastCall`s: `functions.balanceOf(a).call()`."""

    def __init__(self, address: str, abi: list[dict[str, Any]]):
        self._address = address
        self._abi = {e["name"]: e for e in abi if e.get("type") == "function"}
        self._selectors: dict[str, tuple[bytes, list[str], list[str]]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._abi:
            raise AttributeError(name)
        entry = self._abi[name]
        if name not in self._selectors:
            inputs = [abi_type(i) for i in entry["inputs"]]
            outputs = [abi_type(o) for o in entry["outputs"]]
            selector = Web3.keccak(text=f"{name}({','.join(inputs)})")[:4]
            self._selectors[name] = (selector, inputs, outputs)
        selector, inputs, outputs = self._selectors[name]

        def build(*args: Any) -> FastCall:
            values = [_as_abi(i, a) for i, a in zip(entry["inputs"], args, strict=True)]
            data = "0x" + (selector + abi_encode(inputs, values)).hex()
            return FastCall(self._address, data, outputs, name)

        return build


@dataclass
class FastContract:
    address: str
    functions: FastFunctions


def bind_fast(contract: ContractInstance) -> FastContract:
    """The deployed contract for the state machines: cached, batched reads (`READER`)."""
    abi = abi_of(contract)
    address = str(contract.address)
    return FastContract(address, FastFunctions(address, abi))
