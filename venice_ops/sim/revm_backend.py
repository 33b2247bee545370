"""The `revm` backend: the chain backend's contracts and state, run in-process by revm.

Setup is the chain backend's, on Anvil: the suite deployed, the agents funded and approved,
the airdrop opened. When the engine first moves the clock toward day 0, an in-process EVM
(`pyrevm`, the Rust revm Anvil itself is built on) forks the node's latest state (each
account and storage slot fetched from the node once, when first touched), and from then on
each action is a call committed there, in a block of its own at the timestamp the engine
gives, with the same gas limit as on Anvil: the same bytecode on the same state, one second
per transaction, without the JSON-RPC round trips, the mining and the receipt polling. A
revert raises `ActionFailed` with the reason decoded as from Anvil's tracer; events are read
from the call's logs. Reads are static calls on the current state (the last "block"). Held
to the model backend, day by day and to the wei, by tests/sim/test_equivalence.py like the
chain backend. The node itself keeps the state at the end of setup: after a run, read the
run's state through the backend, not through `suite`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ape import chain
from ape.api import AccountAPI
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_utils import keccak
from hexbytes import HexBytes
from pyrevm import EVM, BlockEnv, CfgEnv, Env
from web3.contract import Contract

from venice_ops.deploy.config import DeployConfig
from venice_ops.deploy.suite import Suite
from venice_ops.rpc import (
    TX_GAS,
    Receipt,
    abi_type,
    decode_output,
    reason_from_output,
    web3,
)
from venice_ops.sim.chain_backend import ChainBackend
from venice_ops.sim.model_backend import ActionFailed

__all__ = ["RevmBackend", "fork_evm"]

READER = "0x" + "00" * 19 + "01"  # the sender of static reads
SPEC = "CANCUN"  # Vyper 0.4's default EVM version
_REVERT = re.compile(r"Revert \{ gas_used: \d+, output: (0x[0-9a-fA-F]*) \}")
_ZERO32 = HexBytes(b"\0" * 32)
CONTRACTS = [
    "vvv",
    "staking",
    "controller",
    "diem",
    "curve",
    "usdc",
    "router",
    "burner",
    "subs",
    "pair",
    "airdrop",
]


def fork_evm(uri: str, chain_id: int) -> EVM:
    """An in-process EVM on the node's latest state, each account and storage slot read
    from the node the first time it is touched, then held in process."""
    env = Env(cfg=CfgEnv(chain_id=chain_id))
    return EVM(env=env, fork_url=uri, fork_block="latest", spec_id=SPEC, gas_limit=TX_GAS)


_SELECTORS: dict[tuple[str, str], tuple[bytes, list[str]]] = {}


def _calldata(fn: Any) -> bytes:
    """A bound web3 call's calldata, its selector and types worked out once per function
    (web3's own encoding costs a millisecond a call, more than revm running it)."""
    key = (fn.address, fn.abi_element_identifier)
    known = _SELECTORS.get(key)
    if known is None:
        types = [abi_type(i) for i in fn.abi["inputs"]]
        selector = keccak(text=f"{fn.abi['name']}({','.join(types)})")[:4]
        known = _SELECTORS[key] = (selector, types)
    try:
        return known[0] + abi_encode(known[1], fn.args)
    except EncodingError:  # arguments web3 normalizes first (hex strings for bytes32...)
        return bytes.fromhex(str(fn._encode_transaction_data())[2:])


def _reason(error: RuntimeError) -> str:
    """The revert reason of a failed call, as `reason_of` reads it from Anvil's tracer."""
    message = str(error)
    found = _REVERT.search(message)
    if found:
        return reason_from_output(found.group(1).lower())
    if message.startswith("Halt"):  # out of gas and the like: no output
        return reason_from_output("0x")
    raise error


class _Bound:
    """A deployed contract read through the EVM with ape's call style (`pair.getReserves()`),
    what `value_model_of` expects of the suite."""

    def __init__(self, contract: Any, call: Callable[[Any], Any]):
        self.address, self._contract, self._read = contract.address, contract, call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        function = getattr(self._contract.functions, name)
        return lambda *args: self._read(function(*args))


@dataclass
class _Call:
    """A bound call as `_calldata`, `decode_output` and the backend read it: what web3's
    `ContractFunction` gives, without its per-call search of the contract's ABI."""

    address: str
    abi: dict[str, Any]
    args: tuple[Any, ...]
    abi_element_identifier: str


class _Functions:
    def __init__(self, contract: Contract):
        self._contract = contract
        self._entries: dict[tuple[str, int], list[dict[str, Any]]] = {}
        abi: list[dict[str, Any]] = [dict(e) for e in contract.abi]
        for entry in abi:
            if entry.get("type") == "function":
                key = (str(entry["name"]), len(entry.get("inputs", [])))
                self._entries.setdefault(key, []).append(entry)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def bound(*args: Any) -> Any:
            entries = self._entries.get((name, len(args)), [])
            kinds = [abi_type(i) for i in entries[0]["inputs"]] if len(entries) == 1 else []
            if len(entries) != 1 or any(k.startswith("bytes") for k in kinds):
                # overloaded on types, or arguments web3 converts (hex strings to bytes32)
                return getattr(self._contract.functions, name)(*args)
            types = ",".join(kinds)
            return _Call(self._contract.address, entries[0], args, f"{name}({types})")

        return bound


class _Fast:
    """A web3 contract whose `functions` build `_Call`s; `address` and `events` are its own."""

    def __init__(self, contract: Contract):
        self.address, self.events = contract.address, contract.events
        self.functions = _Functions(contract)


class RevmBackend(ChainBackend):
    name = "revm"

    def __init__(self, suite: Suite, config: DeployConfig, deployer: AccountAPI):
        super().__init__(suite, config, deployer)
        self.evm: EVM | None = None
        self.chain_id = int(web3().eth.chain_id)

    def warp(self, timestamp: int) -> None:
        if self.evm is None:  # setup is over: the run continues in-process
            self.evm = fork_evm(str(chain.provider.http_uri), self.chain_id)
            for name in CONTRACTS:
                if getattr(self, name) is not None:
                    setattr(self, name, _Fast(getattr(self, name)))
        super().warp(timestamp)

    def _mine(self) -> None:
        """An empty block at the clock: reads from now on see its timestamp."""
        if self.evm is None:
            super()._mine()
        else:
            self._block_env(self.block + 1)

    def _block_env(self, number: int) -> None:
        assert self.evm is not None
        self.evm.set_block_env(BlockEnv(number=number, timestamp=self.clock, gas_limit=TX_GAS))

    def _send(self, fn: Any, sender: str) -> Any:
        evm = self.evm
        if evm is None:
            return super()._send(fn, sender)
        self.clock += 1
        self.transactions += 1
        self.block += 1
        self._block_env(self.block)
        try:
            evm.message_call(sender, fn.address, _calldata(fn), gas=TX_GAS)
        except RuntimeError as exc:
            raise ActionFailed(_reason(exc)) from None
        evm.reset_transient_storage()
        result = evm.result
        assert result is not None
        logs = [self._log(entry, index) for index, entry in enumerate(result.logs)]
        return Receipt(result.gas_used, self.block, self.clock, logs)

    def _log(self, entry: Any, index: int) -> dict[str, Any]:
        """A log as web3's event decoding takes it from a receipt."""
        topics, data = entry.data
        return {
            "address": web3().to_checksum_address(entry.address),
            "topics": [HexBytes(t) for t in topics],
            "data": HexBytes(data),
            "logIndex": index,
            "transactionIndex": 0,
            "transactionHash": _ZERO32,
            "blockHash": _ZERO32,
            "blockNumber": self.block,
        }

    def _call(self, fn: Any) -> Any:
        evm = self.evm
        if evm is None:
            return super()._call(fn)
        try:
            data = evm.message_call(READER, fn.address, _calldata(fn), gas=TX_GAS, is_static=True)
        except RuntimeError as exc:
            raise ActionFailed(_reason(exc)) from None
        return decode_output(fn, bytes(data))

    def _call_all(self, fns: list[Any]) -> list[Any]:
        if self.evm is None:
            return super()._call_all(fns)
        return [self._call(fn) for fn in fns]

    def _view(self) -> Suite:
        if self.evm is None:
            return super()._view()
        names = ("pair", "burner", "subscriptions", "usdc")
        contracts = (self.pair, self.burner, self.subs, self.usdc)
        view = {name: _Bound(c, self._call) for name, c in zip(names, contracts, strict=True)}
        return cast(Suite, type("SuiteView", (), view)())
