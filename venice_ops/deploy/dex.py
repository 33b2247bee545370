"""The published Uniswap V2 contracts, deployed from their npm artifacts.

`npm install` brings `@uniswap/v2-core` and `@uniswap/v2-periphery` (pinned in package.json)
with their compiled `build/*.json`. The router's hard-coded pair init-code hash matches the
published pair bytecode, so factory, router and pairs behave on Anvil as on mainnet. On a live
network the deploy config names the existing router and USDC instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ape.api import AccountAPI
from ape.contracts import ContractContainer, ContractInstance
from ethpm_types import ContractType

from venice_ops.paths import PROJECT_ROOT

NODE_MODULES = PROJECT_ROOT / "node_modules" / "@uniswap"
ARTIFACTS = {
    "UniswapV2Factory": NODE_MODULES / "v2-core" / "build" / "UniswapV2Factory.json",
    "UniswapV2Pair": NODE_MODULES / "v2-core" / "build" / "UniswapV2Pair.json",
    "UniswapV2Router02": NODE_MODULES / "v2-periphery" / "build" / "UniswapV2Router02.json",
    "WETH9": NODE_MODULES / "v2-periphery" / "build" / "WETH9.json",
}


class ArtifactError(RuntimeError):
    """A Uniswap artifact is missing: the npm packages are not installed."""


def contract_type(name: str) -> ContractType:
    """The ape contract type of a published Uniswap V2 artifact."""
    path: Path = ARTIFACTS[name]
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run `make setup` (npm install) first")
    data = json.loads(path.read_text())
    bytecode = data.get("bytecode") or data["evm"]["bytecode"]["object"]
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    return ContractType.model_validate(
        {"contractName": name, "abi": data["abi"], "deploymentBytecode": {"bytecode": bytecode}}
    )


def container(name: str) -> ContractContainer:
    return ContractContainer(contract_type(name))


@dataclass
class Dex:
    factory: ContractInstance
    router: ContractInstance
    weth: ContractInstance

    def pair(self, token_a: str, token_b: str) -> ContractInstance:
        """The pair of two tokens (created by `addLiquidity` if it did not exist)."""
        address = self.factory.getPair(token_a, token_b)
        return container("UniswapV2Pair").at(address)


def deploy_dex(deployer: AccountAPI) -> Dex:
    """Deploy WETH9, the factory and router 02, as published."""
    weth = deployer.deploy(container("WETH9"))
    factory = deployer.deploy(container("UniswapV2Factory"), deployer.address)
    router = deployer.deploy(container("UniswapV2Router02"), factory.address, weth.address)
    return Dex(factory=factory, router=router, weth=weth)
