"""Reentrancy through tokens with transfer hooks, into every external entry point: refused by
the lock, or the same as calling afterwards.

Our contracts take their tokens at deploy (VVV, DIEM, USDC); VVV and DIEM make no external call
at all, so with them nothing can reenter anything (the first test proves it from call traces).
To attack anyway, fresh instances of StakedVVV (with its EmissionsController and MintCurve),
Subscriptions, BuybackBurner (on a real Uniswap V2 pair) and AirdropDistributor are deployed on
hook tokens (contracts/test/HookToken.vy for VVV and USDC, HookDiem.vy for DIEM), which call the
attacker (contracts/test/ReentrancyAttacker.vy) after every balance movement. The attacker holds
every role an instance can give (owner, oracle, keeper), so only the contract's own guard stands
in its way.

For every entry point that moves a hook token (the outer call), every hook call during it, and
every external entry point of the contract under attack and of the controller (the inner
call), one block is played three ways from one snapshot: the outer call alone; the inner call
made from the hook, during the outer call; the inner call made after the outer call returns.
A reentry is harmless when either
- it is refused by Vyper's `@nonreentrant` lock: the inner call reverted with no revert data
  (every other refusal in these contracts carries a reason, and the same call made afterwards
  does not fail that way), and the storage of every contract involved equals the outer call
  alone; or
- it is the same as calling afterwards: equal storage everywhere and the same outcome.
Where the contract under attack marks both calls `@nonreentrant`, the lock must be what refused.
Over 500 lines on purpose: one attack across every entry point that moves a hook token, each
case judged by the one rule above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from ape import project
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak
from web3.contract import Contract

from tests.support.chain import deploy, now, revert, snapshot, storage_roots
from tests.support.constants import DAY, MAX_UINT, USDC, VVV, ZERO
from tests.support.permit import sign_permit
from venice_ops.deploy.airdrop_tree import leaf_hash
from venice_ops.deploy.dex import container as dex_container
from venice_ops.paths import PROJECT_ROOT
from venice_ops.rpc import Reverted, call_all, send, web3

OUTER_ONLY, REENTER, SEQUENTIAL = 0, 1, 2
PRECOMPILES = 0x100
ERROR_SELECTOR = bytes.fromhex("08c379a0")


@dataclass(frozen=True)
class Call:
    """One call of a contract's entry point, as the attacker contract makes it."""

    label: str
    contract: Contract
    name: str
    args: tuple[Any, ...] = ()

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.contract.encode_abi(self.name, args=list(self.args))[2:])


@dataclass
class Arena:
    """A contract under attack on hook tokens, with the attacker holding every role."""

    attacker: Contract
    eoa: str
    watched: list[str]
    outers: list[Call]
    inners: list[Call]
    # Entry points that move no token: nothing to hook from them.
    quiet: list[Call]
    # Contracts under attack: (web3 contract, its ape container, its source file).
    contracts: list[tuple[Contract, Any, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    reverted: str | None
    hooks: int = 0
    attempted: bool = False
    succeeded: bool = False
    returned: bytes = b""
    roots: tuple[bytes, ...] = ()


def locked(source: str) -> set[str]:
    """The functions a contract source marks `@nonreentrant`."""
    text = (PROJECT_ROOT / "contracts" / source).read_text()
    return set(re.findall(r"@nonreentrant\s*\n(?:@\w+\s*\n)*def (\w+)", text))


def entry_points(container: Any) -> set[str]:
    return {
        abi.name
        for abi in container.contract_type.abi
        if abi.type == "function" and abi.stateMutability not in ("view", "pure")
    }


class Block:
    """Plays the same block, at the same timestamp, from one snapshot, as often as asked."""

    def __init__(self, arena: Arena):
        self.arena = arena
        self.when = now() + 12
        self.snap = snapshot()

    def play(self, outer: Call, inner: Call | None, mode: int, fire_at: int = 1) -> Outcome:
        revert(self.snap)
        self.snap = snapshot()
        a = self.arena.attacker
        target, data = (inner.contract.address, inner.data) if inner else (ZERO, b"")
        fn = a.functions.attack(outer.contract.address, outer.data, target, data, mode, fire_at)
        try:
            send(fn, self.arena.eoa, self.when)
        except Reverted as exc:
            return Outcome(reverted=exc.reason)
        f = a.functions
        hooks, attempted, succeeded, returned = call_all(
            [f.hookCalls(), f.attempted(), f.succeeded(), f.returned()]
        )
        return Outcome(
            reverted=None,
            hooks=hooks,
            attempted=attempted,
            succeeded=succeeded,
            returned=bytes(returned),
            roots=tuple(storage_roots(self.arena.watched)),
        )


def _describe(outcome: Outcome) -> str:
    if outcome.succeeded:
        return "succeeded"
    if not outcome.returned:
        return "reverted without data"
    if outcome.returned[:4] == ERROR_SELECTOR:
        (reason,) = abi_decode(["string"], outcome.returned[4:])
        return f"reverted ({reason})"
    return f"reverted (0x{outcome.returned.hex()})"


def judge(alone: Outcome, during: Outcome, after: Outcome, lock_expected: bool) -> str | None:
    """None when reentering was harmless, else what went wrong."""
    if during.reverted is not None:
        return f"the reentry made the outer call revert ({during.reverted})"
    if after.reverted is not None:
        return f"the outer call then the inner call reverted ({after.reverted})"
    if not during.attempted:
        return "the hook never made the inner call"
    refused = not during.succeeded and during.returned == b""
    if refused and not (not after.succeeded and after.returned == b""):
        if during.roots != alone.roots:
            return "refused, yet the state differs from the outer call alone"
        return None
    if lock_expected:
        return f"not refused by the lock: {_describe(during)}, afterwards {_describe(after)}"
    if (during.succeeded, during.returned) != (after.succeeded, after.returned):
        return f"reentered {_describe(during)}, afterwards {_describe(after)}"
    if during.roots != after.roots:
        return "the state differs from making the call afterwards"
    return None


def attack_all(arena: Arena, outer: Call) -> list[str]:
    """Reenter every inner call at every hook call of `outer`; the problems found."""
    block = Block(arena)
    alone = block.play(outer, None, OUTER_ONLY)
    assert alone.reverted is None, f"{outer.label} reverts on its own: {alone.reverted}"
    assert alone.hooks >= 1, f"{outer.label} moves no hook token"
    mine = {c.address for c, _, _ in arena.contracts}
    locks = {c.address: locked(source) for c, _, source in arena.contracts}
    problems = []
    for inner in arena.inners:
        lock_expected = (
            outer.contract.address in mine
            and inner.contract.address == outer.contract.address
            and outer.name in locks[outer.contract.address]
            and inner.name in locks[inner.contract.address]
        )
        after = block.play(outer, inner, SEQUENTIAL)
        for fire_at in range(1, alone.hooks + 1):
            during = block.play(outer, inner, REENTER, fire_at)
            problem = judge(alone, during, after, lock_expected)
            if problem:
                problems.append(f"{inner.label} at hook {fire_at}/{alone.hooks}: {problem}")
    return problems


def check_matrix(arena: Arena) -> None:
    """Every entry point is reentered, and every one either is an outer call (moves a hook
    token) or moves none (played alone: no hook call, or it reverts and moves nothing)."""
    block = Block(arena)
    for contract, container, _ in arena.contracts:
        names = entry_points(container)
        reentered = {c.name for c in arena.inners if c.contract.address == contract.address}
        assert reentered == names, f"not reentered: {names - reentered}"
        hooked = {c.name for c in arena.outers if c.contract.address == contract.address}
        quiet = {c.name for c in arena.quiet if c.contract.address == contract.address}
        assert hooked | quiet == names, f"unclassified: {names - hooked - quiet}"
    for call in arena.quiet:
        outcome = block.play(call, None, OUTER_ONLY)
        assert outcome.reverted is not None or outcome.hooks == 0, call.label


def _abi_of(contract: Any) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json", by_alias=True) for entry in contract.contract_type.abi]


def as_attacker(arena_attacker: Contract, eoa: str, call: Call) -> None:
    send(arena_attacker.functions.call(call.contract.address, call.data), eoa)


def hand_over(contract: Contract, owner: str, attacker: Contract, eoa: str) -> None:
    send(contract.functions.transfer_ownership(attacker.address), owner)
    as_attacker(attacker, eoa, Call("", contract, "accept_ownership"))


################################################################ VVV and DIEM make no calls


def test_vvv_and_diem__make_no_external_call_so_nothing_can_reenter_through_them(
    chain, vvv, diem, staking, fund, owner, alice, bob
):
    """With the real tokens nothing can reenter anything: no VVV or DIEM entry point calls out
    (ecrecover, a precompile, aside)."""
    signer = Account.create()
    fund(alice, 1_000_000 * VVV)
    staking.stake(alice, 500_000 * VVV, sender=alice)
    staking.mintDiem(100_000 * VVV, 0, sender=alice)
    deadline = chain.pending_timestamp + 3_600

    def permit(token, name):
        v, r, s = sign_permit(
            name, token, chain, signer.key, signer.address, bob.address, 5, 0, deadline
        )
        return token.permit(signer.address, bob, 5, deadline, v, r, s, sender=alice)

    receipts = [
        vvv.transfer(bob, 10, sender=alice),
        vvv.approve(bob, 10, sender=alice),
        vvv.transferFrom(alice, bob, 5, sender=bob),
        vvv.burn(1, sender=alice),
        vvv.burn_from(alice, 1, sender=bob),
        permit(vvv, "Venice Token"),
        diem.transfer(bob, 10, sender=alice),
        diem.approve(bob, 10, sender=alice),
        diem.transferFrom(alice, bob, 5, sender=bob),
        diem.stake(10**18, sender=alice),
        diem.initiateUnstake(10**17, sender=alice),
        permit(diem, "Diem"),
    ]
    chain.pending_timestamp += diem.cooldownDuration()
    receipts.append(diem.unstake(sender=alice))
    for receipt in receipts:
        trace = web3().provider.make_request(  # type: ignore[arg-type]
            "debug_traceTransaction", [receipt.txn_hash, {"tracer": "callTracer"}]
        )["result"]
        calls = [c for c in trace.get("calls", []) if int(c["to"], 16) >= PRECOMPILES]
        assert trace["to"].lower() in (vvv.address.lower(), diem.address.lower())
        assert calls == [], f"{receipt.method_called.name} calls out: {calls}"


################################################################ StakedVVV and its controller


@pytest.fixture(scope="module")
def hooked_staking(accounts, owner, treasury, attacker, alice, config, chain):
    """StakedVVV, its EmissionsController and MintCurve on hook VVV and hook DIEM. The attacker
    contract owns the staking contract and the controller and is the oracle; it has stake,
    locked stake behind DIEM, a finished cooldown and rewards; a rate change is scheduled."""
    o, e = owner.address, attacker.address
    a = deploy(project.ReentrancyAttacker, sender=e)
    hvvv = deploy(project.HookToken, "Hook VVV", "hVVV", 18, sender=o)
    controller = deploy(
        project.EmissionsController,
        config.max_annual,
        config.annual_rate,
        list(config.split_curve),
        config.max_report_age,
        config.stale_staker_bps,
        treasury.address,
        a.address,
        sender=o,
    )
    staking = deploy(
        project.StakedVVV,
        hvvv.address,
        controller.address,
        config.cooldown,
        config.locked_treasury_bps,
        config.pro_threshold,
        sender=o,
    )
    curve = deploy(
        project.MintCurve,
        config.curve_rates,
        config.launch_mode,
        config.punitive_multiplier,
        sender=o,
    )
    hdiem = deploy(project.HookDiem, staking.address, sender=o)
    send(hvvv.functions.set_minter(staking.address, True), o)
    send(controller.functions.setStaking(staking.address), o)
    send(staking.functions.setDiem(hdiem.address, curve.address), o)
    now = chain.blocks.head.timestamp
    scheduled = now + 30 * DAY
    send(controller.functions.scheduleRate(scheduled, config.annual_rate // 2), o)
    for who in (a.address, alice.address):
        send(hvvv.functions.mint(who, 10_000_000 * VVV), o)
    send(hvvv.functions.approve(staking.address, MAX_UINT), alice.address)
    send(staking.functions.stake(alice.address, 1_000_000 * VVV), alice.address)
    for call in (
        Call("", hvvv, "approve", (staking.address, MAX_UINT)),
        Call("", staking, "stake", (a.address, 2_000_000 * VVV)),
        Call("", staking, "mintDiem", (100_000 * VVV, 0)),
        Call("", staking, "initiateUnstake", (10_000 * VVV,)),
    ):
        as_attacker(a, e, call)
    chain.mine(timestamp=chain.pending_timestamp + config.cooldown + DAY)
    for contract in (controller, staking):
        hand_over(contract, o, a, e)
    for token in (hvvv, hdiem):
        send(token.functions.set_hook(a.address), o)
    return SimpleNamespace(
        attacker=a,
        eoa=e,
        hvvv=hvvv,
        hdiem=hdiem,
        controller=controller,
        staking=staking,
        curve=curve,
        scheduled=scheduled,
    )


@pytest.fixture(scope="module")
def staking_arena(hooked_staking, bob, config):
    h = hooked_staking
    a, s, c = h.attacker.address, h.staking, h.controller
    rate = config.annual_rate

    def st(name: str, *args: Any) -> Call:
        return Call(f"StakedVVV.{name}", s, name, args)

    def ec(name: str, *args: Any) -> Call:
        return Call(f"EmissionsController.{name}", c, name, args)

    outers = [
        st("stake", a, VVV),
        st("finalizeUnstake"),
        st("claim"),
        st("claimAndStake"),
        st("releaseTreasury"),
        st("mintDiem", 1_000 * VVV, 0),
        st("mintExactDiem", VVV, MAX_UINT),
        st("burnDiem", 10**15),
    ]
    quiet_staking = [
        st("initiateUnstake", VVV),
        st("setDiem", h.hdiem.address, h.curve.address),
        st("checkpoint"),
        st("setProThreshold", 7),
        st("transfer", bob.address, 1),
        st("transferFrom", a, bob.address, 1),
        st("approve", bob.address, 1),
        st("transfer_ownership", bob.address),
        st("accept_ownership"),
    ]
    controller_calls = [
        ec("setStaking", s.address),
        ec("setAnnualRate", rate // 2),
        ec("scheduleRate", h.scheduled + DAY, rate // 2),
        ec("cancelScheduledRate", h.scheduled),
        ec("setSplitCurve", [(0, 10_000), (10_000, 10_000)]),
        ec("setStaleFallback", 3_600, 5_000),
        ec("setOracle", bob.address),
        ec("setTreasury", bob.address),
        ec("reportUtilization", 5_000),
        ec("transfer_ownership", bob.address),
        ec("accept_ownership"),
    ]
    return Arena(
        attacker=h.attacker,
        eoa=h.eoa,
        watched=[s.address, c.address, h.hvvv.address, h.hdiem.address, h.curve.address],
        outers=outers,
        inners=outers + quiet_staking + controller_calls,
        quiet=quiet_staking + controller_calls,
        contracts=[
            (s, project.StakedVVV, "StakedVVV.vy"),
            (c, project.EmissionsController, "EmissionsController.vy"),
        ],
    )


def test_staking__every_entry_point_is_reentered_and_every_token_call_hooked(staking_arena):
    check_matrix(staking_arena)


@pytest.mark.parametrize(
    "outer",
    [
        "stake",
        "finalizeUnstake",
        "claim",
        "claimAndStake",
        "releaseTreasury",
        "mintDiem",
        "mintExactDiem",
        "burnDiem",
    ],
)
def test_staking__reentry_from_each_token_call_is_refused_or_harmless(staking_arena, outer):
    [call] = [c for c in staking_arena.outers if c.name == outer]
    assert attack_all(staking_arena, call) == []


################################################################ Subscriptions


@pytest.fixture(scope="module")
def subscriptions_arena(owner, treasury, attacker, alice, bob, carol, config, suite):
    """Subscriptions paid in hook USDC; the attacker contract owns it and pays."""
    o, e = owner.address, attacker.address
    a = deploy(project.ReentrancyAttacker, sender=e)
    husdc = deploy(project.HookToken, "Hook USDC", "hUSDC", 6, sender=o)
    subs = deploy(
        project.Subscriptions,
        husdc.address,
        suite.staking.address,
        treasury.address,
        carol.address,
        [t.price for t in config.tiers],
        [t.burn for t in config.tiers],
        sender=o,
    )
    hand_over(subs, o, a, e)
    send(husdc.functions.mint(a.address, 1_000_000 * USDC), o)
    as_attacker(a, e, Call("", husdc, "approve", (subs.address, MAX_UINT)))
    send(husdc.functions.set_hook(a.address), o)

    def sub(name: str, *args: Any) -> Call:
        return Call(f"Subscriptions.{name}", subs, name, args)

    outers = [sub("subscribe", 0, 1, a.address), sub("subscribe", 2, 3, bob.address)]
    quiet = [
        sub("setTier", 0, 20 * USDC, 3 * USDC),
        sub("setTreasury", bob.address),
        sub("setBurner", alice.address),
        sub("transfer_ownership", bob.address),
        sub("accept_ownership"),
    ]
    return Arena(
        attacker=a,
        eoa=e,
        watched=[subs.address, husdc.address],
        outers=outers,
        inners=[sub("subscribe", 0, 2, a.address), *quiet],
        quiet=quiet,
        contracts=[(subs, project.Subscriptions, "Subscriptions.vy")],
    )


def test_subscriptions__every_entry_point_is_reentered_and_every_token_call_hooked(
    subscriptions_arena,
):
    check_matrix(subscriptions_arena)


@pytest.mark.parametrize("outer", [0, 1], ids=["for_oneself", "as_a_gift"])
def test_subscriptions__reentry_from_each_payment_is_harmless(subscriptions_arena, outer):
    assert attack_all(subscriptions_arena, subscriptions_arena.outers[outer]) == []


################################################################ BuybackBurner


@pytest.fixture(scope="module")
def buyback_arena(chain, owner, attacker, bob, carol, config, suite):
    """A BuybackBurner buying hook VVV with hook USDC on a real Uniswap V2 pair of the two;
    the attacker contract owns it and is its keeper. It holds revenue, VVV sent to it and a
    third hook token sent by mistake."""
    o, e = owner.address, attacker.address
    a = deploy(project.ReentrancyAttacker, sender=e)
    hvvv = deploy(project.HookToken, "Hook VVV", "hVVV", 18, sender=o)
    husdc = deploy(project.HookToken, "Hook USDC", "hUSDC", 6, sender=o)
    stray = deploy(project.HookToken, "Stray", "STRAY", 18, sender=o)
    router = web3().eth.contract(address=suite.router.address, abi=_abi_of(suite.router))
    send(hvvv.functions.mint(o, 1_000_000 * VVV), o)
    send(husdc.functions.mint(o, 2_000_000 * USDC), o)
    for token in (hvvv, husdc):
        send(token.functions.approve(router.address, MAX_UINT), o)
    deadline = chain.pending_timestamp + 3_600
    send(
        router.functions.addLiquidity(
            hvvv.address,
            husdc.address,
            1_000_000 * VVV,
            2_000_000 * USDC,
            0,
            0,
            o,
            deadline,
        ),
        o,
    )
    factory = suite.router.factory()
    pair = dex_container("UniswapV2Factory").at(factory).getPair(hvvv.address, husdc.address)
    burner = deploy(
        project.BuybackBurner,
        hvvv.address,
        husdc.address,
        router.address,
        a.address,
        config.buyback_max_amount_in,
        config.buyback_max_deviation_bps,
        config.buyback_max_slippage_bps,
        config.buyback_min_twap_window,
        config.buyback_max_twap_age,
        sender=o,
    )
    hand_over(burner, o, a, e)
    send(husdc.functions.mint(burner.address, 100_000 * USDC), o)
    send(hvvv.functions.mint(burner.address, 10 * VVV), o)
    send(stray.functions.mint(burner.address, 1_000 * VVV), o)
    chain.mine(timestamp=chain.pending_timestamp + config.buyback_min_twap_window + 1)
    for token in (hvvv, husdc, stray):
        send(token.functions.set_hook(a.address), o)
    when = chain.pending_timestamp + 600

    def bb(name: str, *args: Any) -> Call:
        return Call(f"BuybackBurner.{name}", burner, name, args)

    def buyback(amount: int) -> Call:
        _, floor = burner.functions.quote(amount).call()
        return bb("buyback", amount, floor, when + 600)

    outers = [
        buyback(1_000 * USDC),
        bb("burnVvv"),
        bb("recoverToken", stray.address, bob.address, 1),
    ]
    quiet = [
        bb("update"),
        bb("setKeeper", bob.address, True),
        bb("setLimits", 10 * USDC, 100, 100),
        bb("setTwapWindow", 3_600, 7_200),
        bb("transfer_ownership", bob.address),
        bb("accept_ownership"),
    ]
    inners = [
        buyback(100 * USDC),
        bb("burnVvv"),
        bb("recoverToken", stray.address, carol.address, 1),
        *quiet,
    ]
    return Arena(
        attacker=a,
        eoa=e,
        watched=[burner.address, hvvv.address, husdc.address, stray.address, pair],
        outers=outers,
        inners=inners,
        quiet=quiet,
        contracts=[(burner, project.BuybackBurner, "BuybackBurner.vy")],
    )


def test_buyback__every_entry_point_is_reentered_and_every_token_call_hooked(buyback_arena):
    check_matrix(buyback_arena)


@pytest.mark.parametrize("outer", [0, 1, 2], ids=["buyback", "burnVvv", "recoverToken"])
def test_buyback__reentry_from_each_token_call_is_refused_or_harmless(buyback_arena, outer):
    assert attack_all(buyback_arena, buyback_arena.outers[outer]) == []


################################################################ AirdropDistributor


@pytest.fixture(scope="module")
def airdrop_arena(chain, hooked_staking, owner):
    """An airdrop of hook VVV, claimable straight into the hook-VVV staking contract; the
    attacker contract has two leaves (so a second claim is valid)."""
    h, o = hooked_staking, owner.address
    a = h.attacker.address
    first, second = leaf_hash(a, 100 * VVV), leaf_hash(a, 200 * VVV)
    pair = sorted(bytes.fromhex(x[2:]) for x in (first, second))
    root = keccak(pair[0] + pair[1])
    deadline = chain.pending_timestamp + 10 * DAY
    airdrop = deploy(
        project.AirdropDistributor, h.hvvv.address, h.staking.address, root, deadline, sender=o
    )
    send(h.hvvv.functions.mint(airdrop.address, 1_000 * VVV), o)

    def ad(name: str, *args: Any) -> Call:
        into = " into stake" if args and args[-1] is True else ""
        return Call(f"AirdropDistributor.{name}{into}", airdrop, name, args)

    return SimpleNamespace(
        deadline=deadline,
        arena=Arena(
            attacker=h.attacker,
            eoa=h.eoa,
            watched=[airdrop.address, h.hvvv.address, h.staking.address],
            outers=[
                ad("claim", 100 * VVV, [second], False),
                ad("claim", 100 * VVV, [second], True),
                ad("burnUnclaimed"),
            ],
            inners=[
                ad("claim", 200 * VVV, [first], False),
                ad("claim", 200 * VVV, [first], True),
                ad("burnUnclaimed"),
            ],
            quiet=[],
            contracts=[(airdrop, project.AirdropDistributor, "AirdropDistributor.vy")],
        ),
    )


def test_airdrop__every_entry_point_is_reentered_and_every_token_call_hooked(airdrop_arena):
    check_matrix(airdrop_arena.arena)


@pytest.mark.parametrize("outer", [0, 1], ids=["to_the_wallet", "into_stake"])
def test_airdrop__reentry_from_a_claim_is_refused(airdrop_arena, outer):
    arena = airdrop_arena.arena
    assert attack_all(arena, arena.outers[outer]) == []


def test_airdrop__reentry_from_the_burn_of_the_rest_is_refused(chain, airdrop_arena):
    chain.mine(timestamp=airdrop_arena.deadline + 1)
    arena = airdrop_arena.arena
    assert attack_all(arena, arena.outers[2]) == []
