"""What a block explorer needs to verify the deployed sources (Basescan, Etherscan, Sourcify).

`write_verification` writes, for each Vyper contract of a deploy, into
`deployments/<chain_id>/verify/`:

- `<Name>.input.json`: the standard JSON input, as `vyper -f solc_json` builds it (language
  Vyper; every source the contract compiles from: the contract, its interfaces and snekmate's
  modules; settings: evmVersion, optimize, outputSelection, search_paths; compiler_version;
  integrity). The settings are the ones ape-vyper compiles with (vyper's defaults for 0.4.3:
  EVM `prague`, optimize `gas`), written out explicitly.
- `<Name>.json`: the address, the contract name an explorer asks for
  (`contracts/StakedVVV.vy:StakedVVV`), the compiler version, the ABI-encoded constructor
  arguments (hex, taken from the creation transaction) and that transaction's hash.

The published Uniswap V2 contracts (deployed from npm artifacts on a local chain only) have no
source here and are skipped. `runtime_matches` is the check the tests make: the input recompiled
with `vyper -standard-json` gives the code on chain, the immutables at its end masked.
"""

from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path
from typing import Any

from ape import chain
from ape.contracts import ContractInstance
from vyper.cli.vyper_compile import get_search_paths
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.output_bundle import SolcJSONWriter
from vyper.compiler.phases import CompilerData
from vyper.compiler.settings import OptimizationLevel, Settings
from vyper.evm.opcodes import DEFAULT_EVM_VERSION

from venice_ops.paths import PROJECT_ROOT

__all__ = ["standard_input", "verification_dir", "write_verification"]

# ape-vyper passes no EVM version or optimization for vyper 0.4.3: the compiler's defaults.
EVM_VERSION = DEFAULT_EVM_VERSION
OPTIMIZE = OptimizationLevel.GAS


def verification_dir(chain_id: int, directory: Path) -> Path:
    """Where the verification inputs of chain `chain_id`'s deploy go, beside its manifest."""
    return directory / str(chain_id) / "verify"


@functools.cache
def _standard_input(source_id: str, source: str) -> str:
    # `source` (the file's text) is part of the cache key: an edited contract is read again.
    del source
    with contextlib.chdir(PROJECT_ROOT):  # vyper names the sources relative to the cwd
        bundle = FilesystemInputBundle(get_search_paths([str(PROJECT_ROOT)]))
        file_input = bundle.load_file(Path(source_id))
        settings = Settings(evm_version=EVM_VERSION, optimize=OPTIMIZE)
        writer = SolcJSONWriter(CompilerData(file_input, bundle, settings))
        writer.write()
        return json.dumps(writer.output(), indent=2)


def standard_input(source_id: str) -> dict[str, Any]:
    """The standard JSON input of the project's contract `source_id` (`contracts/VVV.vy`)."""
    text = (PROJECT_ROOT / source_id).read_text()
    result: dict[str, Any] = json.loads(_standard_input(source_id, text))
    return result


def constructor_args(contract: ContractInstance) -> str | None:
    """The ABI-encoded constructor arguments (hex, no 0x) of a contract this process deployed:
    its creation transaction's input less the deployment bytecode; None when unknown."""
    txn_hash = getattr(contract, "txn_hash", None)
    initcode = contract.contract_type.deployment_bytecode
    if not txn_hash or initcode is None or not initcode.bytecode:
        return None
    sent = bytes(chain.provider.web3.eth.get_transaction(txn_hash)["input"]).hex()
    code = initcode.bytecode.removeprefix("0x").lower()
    return sent[len(code) :] if sent.startswith(code) else None


def write_verification(contracts: dict[str, ContractInstance], directory: Path) -> Path:
    """Write the verification inputs of `contracts` (name to deployed instance) for the
    connected chain under `directory` (the manifests' folder); return their folder."""
    out = verification_dir(chain.chain_id, directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, contract in contracts.items():
        source_id = contract.contract_type.source_id
        if not source_id or not source_id.endswith(".vy"):
            continue  # a published artifact (Uniswap V2), not built from this project
        bundle = standard_input(source_id)
        txn_hash = getattr(contract, "txn_hash", None)
        record = {
            "address": str(contract.address),
            "contract_name": f"{source_id}:{Path(source_id).stem}",
            "compiler": "vyper",
            "compiler_version": bundle["compiler_version"],
            "evm_version": bundle["settings"]["evmVersion"],
            "optimize": bundle["settings"]["optimize"],
            "constructor_args": constructor_args(contract),
            "creation_transaction": str(txn_hash) if txn_hash else None,
            "standard_input": f"{name}.input.json",
        }
        (out / f"{name}.input.json").write_text(json.dumps(bundle, indent=2) + "\n")
        (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return out
