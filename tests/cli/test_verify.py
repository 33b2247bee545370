"""Source verification (issue 15 item 13): `ape run deploy` writes, per Vyper contract, the
standard JSON input and the compiler settings an explorer needs; recompiled with vyper's own
standard-JSON entry point it gives the runtime code on chain, the immutables at its end masked,
and the constructor arguments written beside it are the ones the contract was deployed with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ape import chain
from eth_abi import decode
from vyper.cli.vyper_json import compile_json

from scripts.deploy import cli as deploy
from venice_ops.deploy.verify import verification_dir

UNISWAP = ("UniswapV2Router02", "UniswapV2Pair")


def _immutables_length(layout: dict[str, Any]) -> int:
    """The size of the immutables section from vyper's `code_layout` (modules nest)."""
    end = 0
    for entry in layout.values():
        if "length" in entry and "offset" in entry:
            end = max(end, entry["offset"] + entry["length"])
        else:
            end = max(end, _immutables_length(entry))
    return end


def _compiled(bundle: dict[str, Any], contract_name: str) -> dict[str, Any]:
    path, name = contract_name.split(":")
    output = compile_json(bundle)
    assert not [e for e in output.get("errors", []) if e.get("severity") == "error"]
    return dict(output["contracts"][path][name])


def test_deploy__writes_what_verifies_against_the_chain(invoke, tmp_path, config):
    result = invoke(deploy, tmp_path)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / f"{chain.chain_id}.json").read_text())
    folder = verification_dir(chain.chain_id, tmp_path)
    assert "Source verification inputs:" in result.stdout

    vyper_names = [n for n in manifest["contracts"] if n not in UNISWAP]
    assert sorted(p.stem for p in folder.glob("*.input.json")) == sorted(
        f"{n}.input" for n in vyper_names
    )
    for name in vyper_names:
        record = json.loads((folder / f"{name}.json").read_text())
        bundle = json.loads((folder / record["standard_input"]).read_text())
        address = manifest["contracts"][name]["address"]
        assert record["address"] == address
        assert bundle["language"] == "Vyper"
        assert bundle["compiler_version"] == record["compiler_version"]
        assert record["compiler_version"].startswith("v0.4.3+commit.")
        assert bundle["settings"]["evmVersion"] == "prague"
        assert bundle["settings"]["optimize"] == "gas"

        compiled = _compiled(bundle, record["contract_name"])
        runtime = bytes.fromhex(compiled["evm"]["deployedBytecode"]["object"].removeprefix("0x"))
        on_chain = bytes(chain.provider.get_code(address))
        immutables = _immutables_length(compiled["layout"].get("code_layout", {}))
        # The code on chain is the compiled runtime followed by the immutables' values.
        assert len(on_chain) == len(runtime) + immutables, name
        assert on_chain[: len(runtime)] == runtime, name
        initcode = compiled["evm"]["bytecode"]["object"].removeprefix("0x")
        sent = bytes(
            chain.provider.web3.eth.get_transaction(record["creation_transaction"])["input"]
        )
        assert sent.hex() == initcode + record["constructor_args"], name

    # The constructor arguments decode to what the deploy passed.
    staking = json.loads((folder / "StakedVVV.json").read_text())
    types = ["address", "address", "uint256", "uint256", "uint256"]
    args = decode(types, bytes.fromhex(staking["constructor_args"]))
    assert [str(a).lower() for a in args[:2]] == [
        manifest["contracts"][n]["address"].lower() for n in ("VVV", "EmissionsController")
    ]
    assert list(args[2:]) == [config.cooldown, config.locked_treasury_bps, config.pro_threshold]
    # ... and so do the immutables at the end of its code: VVV first (code_layout offset 0).
    code = bytes(chain.provider.get_code(staking["address"]))
    assert code[-128:-96][-20:].hex() == manifest["contracts"]["VVV"]["address"][2:].lower()

    # `vyper --standard-json` on the file, from an empty folder: it carries every source.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    vyper = Path(sys.executable).with_name("vyper")
    run = subprocess.run(
        [str(vyper), "--standard-json", str(folder / staking["standard_input"])],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    output = json.loads(run.stdout)["contracts"]["contracts/StakedVVV.vy"]["StakedVVV"]
    runtime = bytes.fromhex(output["evm"]["deployedBytecode"]["object"].removeprefix("0x"))
    assert code[: len(runtime)] == runtime and len(code) == len(runtime) + 128
