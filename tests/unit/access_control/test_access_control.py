"""Access-control matrix: every privileged function of every contract, called by every
named account that is not its allowed caller, reverts with the contract's reason and leaves
the stored state of the whole suite unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ape
import pytest
from ape import project

from tests.support.constants import VVV

CALLERS = ("owner", "treasury", "oracle", "alice", "attacker")
NOT_OWNER = "ownable: caller is not the owner"
FAR = 10**7  # seconds ahead for the pre-scheduled entry and the probe


@dataclass(frozen=True)
class Privileged:
    contract: str  # fixture name
    function: str
    args: Callable[[dict[str, Any]], list[Any]]
    allowed: frozenset[str]  # named accounts allowed to call; empty: none of them
    reason: str


def _owner_only(
    contract: str,
    function: str,
    args: Callable[[dict[str, Any]], list[Any]] = lambda e: [e["attacker"]],
) -> Privileged:
    """A function only the owner may call (args default: the attacker's address)."""
    return Privileged(contract, function, args, frozenset({"owner"}), NOT_OWNER)


def _accept_ownership(contract: str) -> Privileged:
    """`accept_ownership` with no transfer pending: nobody may call it."""
    return Privileged(
        contract,
        "accept_ownership",
        lambda e: [],
        frozenset(),
        "ownable_2step: caller is not the new owner",
    )


PRIVILEGED = [
    # EmissionsController: owner
    _owner_only("controller", "setStaking", lambda e: [e["alice"]]),
    _owner_only("controller", "setAnnualRate", lambda e: [VVV]),
    _owner_only("controller", "scheduleRate", lambda e: [e["start"] + 1, VVV]),
    _owner_only("controller", "cancelScheduledRate", lambda e: [e["start"]]),
    _owner_only(
        "controller",
        "setSplitCurve",
        lambda e: [
            [{"utilizationBps": 0, "stakerBps": 0}, {"utilizationBps": 10_000, "stakerBps": 0}]
        ],
    ),
    _owner_only("controller", "setStaleFallback", lambda e: [3_600, 0]),
    _owner_only("controller", "setOracle"),
    _owner_only("controller", "setTreasury"),
    _owner_only("controller", "transfer_ownership"),
    # EmissionsController: oracle
    Privileged(
        "controller",
        "reportUtilization",
        lambda e: [5_000],
        frozenset({"oracle"}),
        "emissions: not oracle",
    ),
    # EmissionsController: pending owner only (none pending)
    _accept_ownership("controller"),
    # StakedVVV: the controller only
    Privileged("staking", "checkpoint", lambda e: [], frozenset(), "sVVV: not controller"),
    # StakedVVV: owner
    _owner_only("staking", "setProThreshold", lambda e: [1]),
    _owner_only("staking", "setDiem", lambda e: [e["attacker"], e["attacker"]]),
    _owner_only("staking", "transfer_ownership"),
    _accept_ownership("staking"),
    # MintCurve: owner
    _owner_only("curve", "setCurve", lambda e: [[VVV, 2 * VVV]]),
    _owner_only("curve", "setLaunchMode", lambda e: [0, 100]),
    _owner_only("curve", "transfer_ownership"),
    _accept_ownership("curve"),
    # DIEM: the staking contract only (no account at all)
    Privileged("diem", "mint", lambda e: [e["attacker"], VVV], frozenset(), "DIEM: not staking"),
    Privileged("diem", "burn", lambda e: [e["alice"], 1], frozenset(), "DIEM: not staking"),
    # BuybackBurner: the keeper buys back; the owner sets keepers, limits and recovers
    Privileged(
        "burner",
        "buyback",
        lambda e: [100 * 10**6, e["floor"], e["deadline"]],
        frozenset({"owner"}),  # the deploy config's keeper is the deployer
        "buyback: not keeper",
    ),
    _owner_only("burner", "setKeeper", lambda e: [e["attacker"], True]),
    _owner_only("burner", "setLimits", lambda e: [1, 1, 1]),
    _owner_only("burner", "setTwapWindow", lambda e: [60, 120]),
    _owner_only("burner", "recoverToken", lambda e: [e["stray"], e["attacker"], 1]),
    _owner_only("burner", "transfer_ownership"),
    # Subscriptions: the owner sets tiers, the treasury and the burner
    _owner_only("subscriptions", "setTier", lambda e: [0, 1, 0]),
    _owner_only("subscriptions", "setTreasury"),
    _owner_only("subscriptions", "setBurner"),
    _owner_only("subscriptions", "transfer_ownership"),
    # VVV: the deployer once (already spent at deploy), the minter (StakedVVV) only
    Privileged("vvv", "setMinter", lambda e: [e["attacker"]], frozenset(), "VVV: not deployer"),
    Privileged("vvv", "mint", lambda e: [e["attacker"], VVV], frozenset(), "VVV: not minter"),
]

CASES = [
    pytest.param(p, caller, id=f"{p.contract}.{p.function}-{caller}")
    for p in PRIVILEGED
    for caller in CALLERS
    if caller not in p.allowed
]


@pytest.fixture(scope="module")
def env(chain, controller, fund, staking, owner, alice, attacker, burner, fund_usdc):
    """A suite with a staker and a pending scheduled rate, so that every call has an
    effect an unauthorised caller could have produced. Module-scoped: set up once, and
    each test runs from (and is reverted to) this state."""
    fund(alice, 1_000 * VVV)
    staking.stake(alice, 1_000 * VVV, sender=alice)
    staking.mintDiem(450 * VVV, 0, sender=alice)  # about 5 DIEM that a burn could take
    start = chain.blocks.head.timestamp + FAR
    controller.scheduleRate(start, 2 * VVV, sender=owner)
    # Revenue and a usable TWAP, so a keeper's buyback would go through; a stray token.
    fund_usdc(burner, 1_000 * 10**6)
    chain.mine(timestamp=chain.pending_timestamp + burner.minTwapWindow() + 1)
    stray = project.TestUSDC.deploy(sender=owner)
    stray.mint(burner, 10, sender=owner)
    return {
        "alice": alice,
        "attacker": attacker,
        "start": start,
        "floor": burner.quote(100 * 10**6)[1],
        "deadline": chain.pending_timestamp + 3_000,
        "stray": stray,
    }


def _readable(controller, staking, vvv, diem, curve) -> tuple:
    """A few stored values, for a readable failure next to the storage roots."""
    return (
        controller.owner(),
        controller.annualRate(),
        controller.oracle(),
        controller.treasury(),
        staking.rewardPerTokenStored(),
        staking.proThreshold(),
        vvv.minter(),
        vvv.totalSupply(),
        diem.totalSupply(),
        curve.owner(),
        curve.launchMode(),
        curve.intervals(),
    )


def test_matrix__covers_every_privileged_function():
    names = {(p.contract, p.function) for p in PRIVILEGED}
    assert names >= {
        ("controller", "setStaking"),
        ("controller", "setAnnualRate"),
        ("controller", "scheduleRate"),
        ("controller", "cancelScheduledRate"),
        ("controller", "setSplitCurve"),
        ("controller", "setStaleFallback"),
        ("controller", "setOracle"),
        ("controller", "setTreasury"),
        ("controller", "reportUtilization"),
        ("controller", "transfer_ownership"),
        ("staking", "checkpoint"),
        ("staking", "setProThreshold"),
        ("staking", "transfer_ownership"),
        ("vvv", "setMinter"),
        ("vvv", "mint"),
        ("curve", "setCurve"),
        ("curve", "setLaunchMode"),
        ("curve", "transfer_ownership"),
        ("diem", "mint"),
        ("diem", "burn"),
        ("burner", "buyback"),
        ("burner", "setKeeper"),
        ("burner", "setLimits"),
        ("burner", "setTwapWindow"),
        ("burner", "recoverToken"),
        ("burner", "transfer_ownership"),
        ("subscriptions", "setTier"),
        ("subscriptions", "setTreasury"),
        ("subscriptions", "setBurner"),
        ("subscriptions", "transfer_ownership"),
    }


@pytest.mark.parametrize(("spec", "caller_name"), CASES)
def test_privileged__unauthorised_caller__reverts(
    spec, caller_name, env, request, vvv, controller, staking, diem, curve, storage_roots
):
    caller = request.getfixturevalue(caller_name)
    contract = request.getfixturevalue(spec.contract)
    roots, readable = storage_roots(), _readable(controller, staking, vvv, diem, curve)
    with ape.reverts(spec.reason):
        getattr(contract, spec.function)(*spec.args(env), sender=caller)
    assert _readable(controller, staking, vvv, diem, curve) == readable
    assert storage_roots() == roots


@pytest.mark.parametrize(
    ("contract_name", "function", "args"),
    [
        ("controller", "setAnnualRate", [VVV]),
        ("controller", "setOracle", ["attacker"]),
        ("controller", "setTreasury", ["attacker"]),
        ("staking", "setProThreshold", [1]),
        ("curve", "setLaunchMode", [1, 100]),
        ("curve", "setCurve", [[VVV, 2 * VVV]]),
        ("burner", "setKeeper", ["attacker", True]),
        ("burner", "setLimits", [1, 1, 1]),
        ("subscriptions", "setTier", [0, 1, 0]),
        ("subscriptions", "setTreasury", ["attacker"]),
    ],
)
def test_privileged__allowed_caller_succeeds(
    contract_name, function, args, request, owner, attacker, storage_roots
):
    """The matrix's rejections are about the caller: the owner's same call goes through,
    and changes the storage roots the matrix compares."""
    contract = request.getfixturevalue(contract_name)
    resolved = [attacker if a == "attacker" else a for a in args]
    roots = storage_roots()
    receipt = getattr(contract, function)(*resolved, sender=owner)
    assert not receipt.failed
    assert storage_roots() != roots


def test_reportUtilization__oracle_succeeds(controller, oracle):
    receipt = controller.reportUtilization(5_000, sender=oracle)
    assert not receipt.failed
    assert controller.utilizationBps() == 5_000
