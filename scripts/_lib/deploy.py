"""Deploy the suite and read or write its manifest.

`deploy_suite` is the one code path that deploys: the `deploy` command, the main job,
the benchmarks and the test fixtures all call it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ape import accounts, chain, project
from ape.api import AccountAPI
from ape.contracts import ContractInstance
from eth_utils import is_address, to_checksum_address

from scripts._lib.config import PROJECT_ROOT, ConfigError, DeployConfig
from scripts._lib.tx import transact

DEPLOYMENTS = PROJECT_ROOT / "deployments"
CONTRACT_NAMES = ("VVV", "EmissionsController", "StakedVVV", "MintCurve", "DIEM")


class ManifestError(RuntimeError):
    """No usable deployment for this network; the message says what to do."""


@dataclass
class Suite:
    """The deployed contracts, bound for use with ape."""

    vvv: ContractInstance
    controller: ContractInstance
    staking: ContractInstance
    curve: ContractInstance
    diem: ContractInstance
    roles: dict[str, str] = field(default_factory=dict)
    block: int = 0

    def contracts(self) -> dict[str, ContractInstance]:
        return {
            "VVV": self.vvv,
            "EmissionsController": self.controller,
            "StakedVVV": self.staking,
            "MintCurve": self.curve,
            "DIEM": self.diem,
        }


def resolve_role(spec: str, deployer: AccountAPI, roles: dict[str, str], depth: int = 0) -> str:
    """Turn a role spec ("deployer", another role's name, "test:N", 0x...) into an address."""
    spec = spec.strip()
    if spec == "deployer":
        return str(deployer.address)
    if spec.startswith("test:"):
        if chain.provider.network.name != "local":
            raise ConfigError(f"'{spec}' names a test account, which exists only on local networks")
        try:
            return str(accounts.test_accounts[int(spec[5:])].address)
        except (ValueError, IndexError):
            raise ConfigError(f"'{spec}' is not a test account index") from None
    if spec in roles and depth < 4:
        return resolve_role(roles[spec], deployer, roles, depth + 1)
    if is_address(spec):
        return to_checksum_address(spec)
    raise ConfigError(f"'{spec}' is neither 'deployer', a role, 'test:N' nor an address")


def deploy_suite(
    deployer: AccountAPI,
    config: DeployConfig,
    role_overrides: dict[str, str] | None = None,
) -> Suite:
    """Deploy VVV, the EmissionsController and StakedVVV, and wire them."""
    role_specs = {**config.roles, **(role_overrides or {})}
    roles = {name: resolve_role(spec, deployer, role_specs) for name, spec in role_specs.items()}
    now = chain.pending_timestamp
    for start, _ in config.schedule:
        if start <= now:
            raise ConfigError(
                f"{config.source}: emissions.schedule entry at {start} is not in the future "
                f"of this chain (its clock reads {now})"
            )

    recipients = [resolve_role(a.to, deployer, role_specs) for a in config.genesis]
    amounts = [a.amount for a in config.genesis]
    vvv = project.VVV.deploy(recipients, amounts, sender=deployer)
    controller = project.EmissionsController.deploy(
        config.max_annual,
        config.annual_rate,
        [{"utilizationBps": u, "stakerBps": s} for u, s in config.split_curve],
        config.max_report_age,
        config.stale_staker_bps,
        roles["treasury"],
        roles["oracle"],
        sender=deployer,
    )
    staking = project.StakedVVV.deploy(
        vvv.address,
        controller.address,
        config.cooldown,
        config.locked_treasury_bps,
        config.pro_threshold,
        sender=deployer,
    )
    curve = project.MintCurve.deploy(
        config.curve_rates, config.launch_mode, config.punitive_multiplier, sender=deployer
    )
    diem = project.DIEM.deploy(staking.address, config.diem_cooldown, sender=deployer)
    # Wiring goes through `transact`: setStaking and scheduleRate checkpoint the staking
    # contract, which costs more in the next block than a latest-block estimate says.
    transact(vvv.setMinter, staking.address, sender=deployer)
    transact(controller.setStaking, staking.address, sender=deployer)
    transact(staking.setDiem, diem.address, curve.address, sender=deployer)
    for start, annual in config.schedule:
        transact(controller.scheduleRate, start, annual, sender=deployer)
    if roles["owner"] != deployer.address:
        # Two-step handover: the owner must call accept_ownership on each.
        for contract in (controller, staking, curve):
            transact(contract.transfer_ownership, roles["owner"], sender=deployer)
    return Suite(
        vvv=vvv,
        controller=controller,
        staking=staking,
        curve=curve,
        diem=diem,
        roles=roles,
        block=chain.blocks.head.number or 0,
    )


def manifest_path(chain_id: int, directory: Path = DEPLOYMENTS) -> Path:
    return directory / f"{chain_id}.json"


def manifest_is_live(path: Path) -> bool:
    """True when the chain still has code at the addresses the manifest at `path` records."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    for entry in data.get("contracts", {}).values():
        try:
            if chain.provider.get_code(entry["address"]):
                return True
        except Exception:  # an unreadable entry is not live
            continue
    return False


def check_manifest_replaceable(directory: Path = DEPLOYMENTS, force: bool = False) -> None:
    """Refuse, before any gas is spent, to replace the manifest of a live deployment.

    Check before deploying: after a deploy on a restarted dev chain, the same deployer at the
    same nonces lands on the old manifest's addresses, which then look live.
    """
    path = manifest_path(chain.chain_id, directory)
    if not force and path.exists() and manifest_is_live(path):
        raise ManifestError(
            f"{path} describes a deployment that is live on chain {chain.chain_id}; "
            "pass --force to replace it (keep a copy first)"
        )


def write_manifest(
    suite: Suite, config: DeployConfig, directory: Path = DEPLOYMENTS, force: bool = False
) -> Path:
    """Write `deployments/<chain_id>.json`; refuse to replace a live one unless forced
    (callers that deploy check with `check_manifest_replaceable` first, then force)."""
    chain_id = chain.chain_id
    path = manifest_path(chain_id, directory)
    check_manifest_replaceable(directory, force)
    contracts = {
        name: {
            "address": str(contract.address),
            "abi": [
                abi.model_dump(mode="json", by_alias=True) for abi in contract.contract_type.abi
            ],
        }
        for name, contract in suite.contracts().items()
    }
    data = {
        "chain_id": chain_id,
        "network": chain.provider.network.name,
        "block": suite.block,
        "deployed_at": int(time.time()),
        "config": str(config.source.relative_to(PROJECT_ROOT))
        if config.source.is_relative_to(PROJECT_ROOT)
        else str(config.source),
        "roles": suite.roles,
        "contracts": contracts,
    }
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_suite(directory: Path = DEPLOYMENTS) -> Suite:
    """Bind the deployment recorded for the connected chain, checking it is there."""
    chain_id = chain.chain_id
    path = manifest_path(chain_id, directory)
    if not path.exists():
        raise ManifestError(
            f"no manifest for this network (chain {chain_id}): {path} is missing. "
            "Deploy first with `ape run deploy` on this network."
        )
    try:
        data = json.loads(path.read_text())
        addresses = {name: data["contracts"][name]["address"] for name in CONTRACT_NAMES}
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestError(f"{path} is not a valid manifest ({exc}); redeploy") from None
    for name, address in addresses.items():
        if not chain.provider.get_code(address):
            raise ManifestError(
                f"{path} says {name} is at {address}, but chain {chain_id} has no code there "
                "(a restarted local node?). Redeploy with `ape run deploy`."
            )
    return Suite(
        vvv=project.VVV.at(addresses["VVV"]),
        controller=project.EmissionsController.at(addresses["EmissionsController"]),
        staking=project.StakedVVV.at(addresses["StakedVVV"]),
        curve=project.MintCurve.at(addresses["MintCurve"]),
        diem=project.DIEM.at(addresses["DIEM"]),
        roles=data.get("roles", {}),
        block=int(data.get("block", 0)),
    )
