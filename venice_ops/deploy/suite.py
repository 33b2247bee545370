"""Deploy the suite and read or write its manifest.

`deploy_suite` is the one code path that deploys: the `deploy` command, the main job,
the benchmarks and the test fixtures all call it. (Just over 500 lines: the deploy path and
the manifest it writes and reads back belong together.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape import accounts, chain, project
from ape.api import AccountAPI
from ape.contracts import ContractInstance
from eth_utils import is_address, to_checksum_address

from venice_ops.deploy.config import ANYONE, ConfigError, DeployConfig
from venice_ops.deploy.dex import container as dex_container
from venice_ops.deploy.dex import deploy_dex
from venice_ops.deploy.network import is_local_chain, node_started_here
from venice_ops.deploy.tx import deploy, transact
from venice_ops.paths import DEPLOYMENTS, PROJECT_ROOT
from venice_sdk.units import format_units

CONTRACT_NAMES = (
    "VVV",
    "EmissionsController",
    "StakedVVV",
    "MintCurve",
    "DIEM",
    "USDC",
    "UniswapV2Router02",
    "UniswapV2Pair",
    "BuybackBurner",
    "Subscriptions",
    "EntitlementsLens",
)
OPTIONAL_NAMES = ("AirdropDistributor", "Timelock")
# How to replace one stale optional entry alone (the rest of the suite still has its code).
STALE_FIXES = {
    "AirdropDistributor": (
        "If the rest of the suite is live, deploy a new distributor in its place with "
        "`ape run airdrop deploy FILE --force`; else redeploy with `ape run deploy`."
    ),
}
# Every contract of the suite with an owner; VVV and DIEM renounce theirs at construction,
# the airdrop and the lens have none.
OWNED_NAMES = ("EmissionsController", "StakedVVV", "MintCurve", "BuybackBurner", "Subscriptions")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


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
    usdc: ContractInstance
    router: ContractInstance
    pair: ContractInstance
    burner: ContractInstance
    subscriptions: ContractInstance
    lens: ContractInstance
    airdrop: ContractInstance | None = None
    timelock: ContractInstance | None = None
    roles: dict[str, str] = field(default_factory=dict)
    # With a timelock: its address, min_delay, proposers and executors (as in the manifest).
    governance: dict[str, Any] = field(default_factory=dict)
    block: int = 0
    # The deploying account (it holds what is left of its genesis share and mints test USDC).
    deployer: str = ""

    def contracts(self) -> dict[str, ContractInstance]:
        named = {
            "VVV": self.vvv,
            "EmissionsController": self.controller,
            "StakedVVV": self.staking,
            "MintCurve": self.curve,
            "DIEM": self.diem,
            "USDC": self.usdc,
            "UniswapV2Router02": self.router,
            "UniswapV2Pair": self.pair,
            "BuybackBurner": self.burner,
            "Subscriptions": self.subscriptions,
            "EntitlementsLens": self.lens,
        }
        if self.airdrop is not None:
            named["AirdropDistributor"] = self.airdrop
        if self.timelock is not None:
            named["Timelock"] = self.timelock
        return named

    def owned(self) -> dict[str, ContractInstance]:
        """The contracts governance owns."""
        return {name: c for name, c in self.contracts().items() if name in OWNED_NAMES}


def resolve_role(spec: str, deployer: AccountAPI, roles: dict[str, str], depth: int = 0) -> str:
    """Turn a role spec ("deployer", another role's name, "test:N", 0x...) into an address."""
    spec = spec.strip()
    if spec == "deployer":
        return str(deployer.address)
    if spec.startswith("test:"):
        if not is_local_chain():
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
    """Deploy VVV, the EmissionsController, StakedVVV, the mint curve and DIEM, wire them,
    then the value capture (USDC, the DEX and its pool, the buyback-burner, subscriptions)
    and, when the config names a CSV, the airdrop."""
    role_specs = {**config.roles, **(role_overrides or {})}
    roles = {name: resolve_role(spec, deployer, role_specs) for name, spec in role_specs.items()}
    check_governance(config, chain.provider.network.name, live=not is_local_chain())
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

    usdc, router, pair = _market(deployer, config, vvv)
    burner = deploy(
        project.BuybackBurner,
        vvv.address,
        usdc.address,
        router.address,
        roles.get("keeper", str(deployer.address)),
        config.buyback_max_amount_in,
        config.buyback_max_deviation_bps,
        config.buyback_max_slippage_bps,
        config.buyback_min_twap_window,
        config.buyback_max_twap_age,
        sender=deployer,
    )
    subscriptions = project.Subscriptions.deploy(
        usdc.address,
        staking.address,
        roles["treasury"],
        burner.address,
        [t.price for t in config.tiers],
        [t.burn for t in config.tiers],
        sender=deployer,
    )
    lens = project.EntitlementsLens.deploy(
        staking.address, diem.address, subscriptions.address, sender=deployer
    )
    airdrop = None
    if config.airdrop_csv is not None:
        from venice_ops.deploy.airdrop_tree import AirdropTree, read_csv

        tree = AirdropTree(read_csv(config.airdrop_csv))
        airdrop = deploy_airdrop(deployer, vvv, staking, tree.root, tree.total, config)

    suite = Suite(
        vvv=vvv,
        controller=controller,
        staking=staking,
        curve=curve,
        diem=diem,
        usdc=usdc,
        router=router,
        pair=pair,
        burner=burner,
        subscriptions=subscriptions,
        lens=lens,
        airdrop=airdrop,
        roles=roles,
        deployer=str(deployer.address),
    )
    if config.governance.timelock:
        hand_over_to_timelock(deployer, suite, config, role_specs)
    elif roles["owner"] != deployer.address:
        # Two-step handover: the owner must call accept_ownership on each.
        for contract in suite.owned().values():
            transact(contract.transfer_ownership, roles["owner"], sender=deployer)
    suite.block = chain.blocks.head.number or 0
    return suite


def check_governance(config: DeployConfig, network: str, *, live: bool | None = None) -> None:
    """Refuse a deploy to a live network that would leave the owned contracts with an account
    instead of the timelock. `live` is `is_local_chain()`'s answer (chain id, then loopback);
    without it, by the network's name (neither the local chain nor a fork)."""
    if live is None:
        live = network != "local" and not network.endswith("-fork")
    if live and not config.governance.timelock:
        raise ConfigError(
            f"{config.source}: governance.timelock: must be true on a live network ({network}): "
            "a live deploy hands every owned contract to the timelock"
        )


def hand_over_to_timelock(
    deployer: AccountAPI, suite: Suite, config: DeployConfig, role_specs: dict[str, str]
) -> ContractInstance:
    """Deploy the Timelock and make it the owner of every owned contract.

    Two-step handover in one run: the deployer proposes the timelock as each contract's
    owner (`transfer_ownership`), then, as the timelock's only proposer and executor at a
    zero delay, schedules and executes one batch in which the timelock calls
    `accept_ownership` on each and raises its own delay to `min_delay`. Only then are the
    configured proposers (and cancellers) and executors granted their roles, so none of them
    can schedule an operation at the bootstrap's zero delay; the deployer finally gives up
    every role the config did not grant it, the admin role included, and the timelock
    administers itself. `suite.roles["owner"]` becomes the timelock and `suite.governance`
    records it for the manifest.
    """
    gov = config.governance
    proposers = [resolve_role(spec, deployer, role_specs) for spec in gov.proposers]
    executors = [
        ZERO_ADDRESS if spec == ANYONE else resolve_role(spec, deployer, role_specs)
        for spec in gov.executors
    ]
    me = str(deployer.address)
    timelock = project.Timelock.deploy(0, [me], [me], me, sender=deployer)
    owned = list(suite.owned().values())
    for contract in owned:
        transact(contract.transfer_ownership, timelock.address, sender=deployer)
    targets = [*(c.address for c in owned), timelock.address]
    payloads = [
        *(c.accept_ownership.encode_input() for c in owned),
        timelock.update_delay.encode_input(gov.min_delay),
    ]
    batch = (targets, [0] * len(targets), payloads, b"\x00" * 32, b"\x00" * 32)
    transact(timelock.schedule_batch, *batch, 0, sender=deployer)
    transact(timelock.execute_batch, *batch, sender=deployer)

    proposer, canceller, executor = (
        timelock.PROPOSER_ROLE(),
        timelock.CANCELLER_ROLE(),
        timelock.EXECUTOR_ROLE(),
    )
    grants = [(role, a) for a in proposers for role in (proposer, canceller)]
    grants += [(executor, a) for a in executors]
    for role, account in grants:
        transact(timelock.grantRole, role, account, sender=deployer)
    kept = {role for role, account in grants if account == me}
    for role in (proposer, canceller, executor, timelock.DEFAULT_ADMIN_ROLE()):
        if role not in kept:
            transact(timelock.renounceRole, role, me, sender=deployer)

    suite.timelock = timelock
    suite.roles["owner"] = str(timelock.address)
    suite.governance = {
        "timelock": str(timelock.address),
        "min_delay": gov.min_delay,
        "proposers": proposers,
        "executors": executors,
    }
    return timelock


def _market(
    deployer: AccountAPI, config: DeployConfig, vvv: ContractInstance
) -> tuple[ContractInstance, ContractInstance, ContractInstance]:
    """USDC, the router and the VVV/USDC pair: deployed and seeded ("local"), or the live
    ones the config names."""
    if config.router == "local":
        if config.usdc != "local":
            raise ConfigError(
                f"{config.source}: value_capture.router is 'local', which seeds its pool with "
                "test USDC: value_capture.usdc must be 'local' too"
            )
        usdc = project.TestUSDC.deploy(sender=deployer)
        dex = deploy_dex(deployer)
        router = dex.router
        deadline = chain.pending_timestamp + 3_600
        seed_vvv, seed_usdc = config.pool_seed_vvv, config.pool_seed_usdc
        if seed_vvv == 0 or seed_usdc == 0:
            raise ConfigError(f"{config.source}: value_capture.pool_seed must be positive")
        if vvv.balanceOf(deployer) < seed_vvv:
            raise ConfigError(
                f"{config.source}: value_capture.pool_seed.vvv is more than the deployer's "
                "genesis share"
            )
        transact(usdc.mint, deployer.address, seed_usdc, sender=deployer)
        transact(usdc.approve, router.address, seed_usdc, sender=deployer)
        transact(vvv.approve, router.address, seed_vvv, sender=deployer)
        transact(
            router.addLiquidity,
            vvv.address,
            usdc.address,
            seed_vvv,
            seed_usdc,
            seed_vvv,
            seed_usdc,
            deployer.address,
            deadline,
            sender=deployer,
        )
    else:
        usdc_address = config.usdc
        if usdc_address == "local":
            usdc_address = str(project.TestUSDC.deploy(sender=deployer).address)
        for what, address in (("usdc", usdc_address), ("router", config.router)):
            if not chain.provider.get_code(address):
                raise ConfigError(
                    f"{config.source}: value_capture.{what} {address} has no code on chain "
                    f"{chain.chain_id}"
                )
        usdc = project.TestUSDC.at(usdc_address)
        router = dex_container("UniswapV2Router02").at(config.router)
    factory = dex_container("UniswapV2Factory").at(router.factory())
    pair_address = factory.getPair(vvv.address, usdc.address)
    if int(pair_address, 16) == 0:
        raise ConfigError(
            f"{config.source}: the router's factory has no VVV/USDC pair: create and seed the "
            "pool first (addLiquidity), then deploy the buyback-burner"
        )
    return usdc, router, dex_container("UniswapV2Pair").at(pair_address)


def _vvv(amount: int) -> str:
    """As the commands show VVV: "1,265.5" (at most four decimals, no trailing zeros)."""
    text = format_units(amount, 18, 4)
    return text.rstrip("0").rstrip(".")


def deploy_airdrop(
    deployer: AccountAPI,
    vvv: ContractInstance,
    staking: ContractInstance,
    root: str,
    total: int,
    config: DeployConfig,
) -> ContractInstance:
    """Deploy the airdrop for a tree and fund it with the tree's total from the deployer."""
    if vvv.balanceOf(deployer) < total:
        raise ConfigError(
            f"the airdrop needs {_vvv(total)} VVV and the deployer holds "
            f"{_vvv(int(vvv.balanceOf(deployer)))}: lower the amounts or fund the deployer"
        )
    deadline = chain.pending_timestamp + config.airdrop_window
    airdrop = project.AirdropDistributor.deploy(
        vvv.address, staking.address, root, deadline, sender=deployer
    )
    transact(vvv.transfer, airdrop.address, total, sender=deployer)
    return airdrop


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
        "deployer": suite.deployer,
        "contracts": contracts,
    }
    if suite.governance:
        data["governance"] = suite.governance
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def load_suite(directory: Path = DEPLOYMENTS, ignore: Collection[str] = ()) -> Suite:
    """Bind the deployment recorded for the connected chain, checking it is there.

    `ignore` names optional contracts (OPTIONAL_NAMES) whose manifest entries are skipped:
    `airdrop deploy --force` replaces a stale AirdropDistributor entry that way."""
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
        addresses.update(
            {
                name: data["contracts"][name]["address"]
                for name in OPTIONAL_NAMES
                if name in data["contracts"] and name not in ignore
            }
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestError(f"{path} is not a valid manifest ({exc}); redeploy") from None
    for name, address in addresses.items():
        if not chain.provider.get_code(address):
            if node_started_here():  # (a deploy there would replace the manifest of the real one)
                raise ManifestError(
                    f"{path} says {name} is at {address}, but this command ran on a throwaway "
                    "node ape started for it (no --network), which has no code there: pass the "
                    "--network of the node you deployed to (e.g. --network "
                    "http://127.0.0.1:8545)"
                )
            fix = STALE_FIXES.get(name, "Redeploy with `ape run deploy`.")
            raise ManifestError(
                f"{path} says {name} is at {address}, but chain {chain_id} has no code there "
                f"(a restarted local node?). {fix}"
            )
    return Suite(
        vvv=project.VVV.at(addresses["VVV"]),
        controller=project.EmissionsController.at(addresses["EmissionsController"]),
        staking=project.StakedVVV.at(addresses["StakedVVV"]),
        curve=project.MintCurve.at(addresses["MintCurve"]),
        diem=project.DIEM.at(addresses["DIEM"]),
        usdc=project.TestUSDC.at(addresses["USDC"]),
        router=dex_container("UniswapV2Router02").at(addresses["UniswapV2Router02"]),
        pair=dex_container("UniswapV2Pair").at(addresses["UniswapV2Pair"]),
        burner=project.BuybackBurner.at(addresses["BuybackBurner"]),
        subscriptions=project.Subscriptions.at(addresses["Subscriptions"]),
        lens=project.EntitlementsLens.at(addresses["EntitlementsLens"]),
        airdrop=project.AirdropDistributor.at(addresses["AirdropDistributor"])
        if "AirdropDistributor" in addresses
        else None,
        timelock=project.Timelock.at(addresses["Timelock"]) if "Timelock" in addresses else None,
        roles=data.get("roles", {}),
        governance=data.get("governance", {}),
        block=int(data.get("block", 0)),
        deployer=str(data.get("deployer", "")),
    )


def record_in_manifest(
    name: str, contract: ContractInstance, directory: Path = DEPLOYMENTS
) -> Path:
    """Add (or replace) one contract in the connected chain's manifest."""
    path = manifest_path(chain.chain_id, directory)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot update {path} ({exc}); deploy the suite first") from None
    data.setdefault("contracts", {})[name] = {
        "address": str(contract.address),
        "abi": [abi.model_dump(mode="json", by_alias=True) for abi in contract.contract_type.abi],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path
