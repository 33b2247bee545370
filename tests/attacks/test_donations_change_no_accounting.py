"""A direct VVV or DIEM donation to any contract of the suite changes no one's accounting.

The suite is put in a busy state (stakes, a cooldown, a DIEM lock, staked and cooling DIEM, a
subscription, revenue in the buyback-burner, an open airdrop, a utilization report), then the
same script of actions is played twice from one snapshot, at the same timestamps: without and
with an attacker's transfer of VVV or DIEM to one contract first. After the donation and after
every later action (claims, compounding, a finalized unstake, the treasury's release, a DIEM
burn and DIEM unstake, a subscription, a buyback, an airdrop claim, the burn of the unclaimed
rest) every stake, pending reward, cooldown, lock, DIEM stake, expiry, claim, total and every
holder's balance is the same in both runs. What differs is only the donation itself, and each
test says where it ends up:
- VVV to StakedVVV, DIEM, Subscriptions or EmissionsController, and DIEM to Subscriptions,
  AirdropDistributor or EmissionsController: it stays in that contract, counted by nothing (no
  function pays it out);
- VVV to BuybackBurner: the next buyback burns it with what it buys (`totalBurned` and the fall
  in supply count it; `totalBought` and `totalSpent` do not);
- VVV to AirdropDistributor: claims pay exactly their leaves; after the deadline
  `burnUnclaimed` burns it with the unclaimed rest;
- DIEM to BuybackBurner: it stays until governance returns it with `recoverToken`;
- DIEM to DIEM: refused (`DIEM: use stake()`), so no donation can touch the stakes it holds;
  DIEM to StakedVVV: refused (`DIEM: use burnDiem()`), as it would be lost there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ape
import pytest
from ape import project

from tests.support.chain import deploy, now, rewound, storage_root
from tests.support.constants import DAY, MAX_UINT, USDC, VVV
from venice_ops.deploy.airdrop_tree import AirdropTree
from venice_ops.rpc import bind, call_all, mine, send

DONATION = {"vvv": 12_345 * VVV + 6789, "diem": 1_234 * VVV + 5}
RECIPIENTS = ("staking", "diem", "burner", "subscriptions", "airdrop", "controller")


@pytest.fixture(scope="module")
def world(chain, suite, config, owner, treasury, oracle, alice, bob, carol, attacker):
    """The busy suite, bound for web3, with an airdrop of its own."""
    c = {
        name: bind(getattr(suite, name))
        for name in ("vvv", "staking", "diem", "controller", "burner", "subscriptions", "usdc")
    }
    o = owner.address
    tree = AirdropTree([(alice.address, 1_000 * VVV), (bob.address, 250 * VVV)])
    deadline = chain.pending_timestamp + 20 * DAY
    airdrop = deploy(
        project.AirdropDistributor,
        c["vvv"].address,
        c["staking"].address,
        tree.root,
        deadline,
        sender=o,
    )
    c["airdrop"] = airdrop
    v, s, d, u = (
        c["vvv"].functions,
        c["staking"].functions,
        c["diem"].functions,
        c["usdc"].functions,
    )
    send(v.transfer(airdrop.address, tree.total), o)
    for who in (alice, bob, attacker):
        send(v.transfer(who.address, 2_000_000 * VVV), o)
        send(v.approve(c["staking"].address, MAX_UINT), who.address)
    send(s.stake(alice.address, 500_000 * VVV), alice.address)
    send(s.stake(bob.address, 300_000 * VVV), bob.address)
    send(s.stake(attacker.address, 900_000 * VVV), attacker.address)
    send(s.mintDiem(100_000 * VVV, 0), alice.address)
    send(s.mintDiem(300_000 * VVV, 0), attacker.address)  # the attacker's DIEM to donate
    send(d.stake(500 * VVV), alice.address)
    send(d.initiateUnstake(100 * VVV), alice.address)
    send(s.initiateUnstake(10_000 * VVV), alice.address)
    send(u.mint(carol.address, 1_000 * USDC), o)
    send(u.approve(c["subscriptions"].address, MAX_UINT), carol.address)
    send(c["subscriptions"].functions.subscribe(0, 1, carol.address), carol.address)
    send(u.mint(c["burner"].address, 10_000 * USDC), o)
    send(c["controller"].functions.reportUtilization(5_000), oracle.address)
    return {
        "c": c,
        "tree": tree,
        "deadline": deadline,
        "people": [alice.address, bob.address, carol.address, attacker.address, treasury.address],
        "owner": o,
        "alice": alice.address,
        "bob": bob.address,
        "carol": carol.address,
        "attacker": attacker.address,
        "pair": suite.pair.address,
    }


def accounting(w: dict[str, Any]) -> dict[str, Any]:
    """Everything anyone is owed or holds, and every total: read in one batch."""
    c = w["c"]
    s, d, vvv = c["staking"].functions, c["diem"].functions, c["vvv"].functions
    reads: dict[str, Any] = {}
    for who in w["people"]:
        reads |= {
            f"sVVV {who}": s.balanceOf(who),
            f"pending rewards {who}": s.pendingRewards(who),
            f"cooldown {who}": s.cooldowns(who),
            f"lock {who}": s.lockedStakes(who),
            f"DIEM stake {who}": d.stakedInfos(who),
            f"VVV {who}": vvv.balanceOf(who),
            f"DIEM {who}": d.balanceOf(who),
            f"USDC {who}": c["usdc"].functions.balanceOf(who),
        }
        for tier in range(4):
            reads[f"expiry {tier} {who}"] = c["subscriptions"].functions.expiryOf(who, tier)
    for name in RECIPIENTS:
        reads[f"VVV held by {name}"] = vvv.balanceOf(c[name].address)
        reads[f"DIEM held by {name}"] = d.balanceOf(c[name].address)
    for who, amount in w["tree"].entries:
        proof = w["tree"].proof(who)
        reads[f"airdrop claimed {who}"] = c["airdrop"].functions.isClaimed(who, amount, proof)
    totals = {
        "staking": (
            "totalStaked",
            "totalLocked",
            "totalCoolingDown",
            "treasuryReleasable",
            "treasuryMinted",
            "totalDiemOutstanding",
            "rewardPerTokenStored",
        ),
        "diem": ("totalSupply", "totalStaked", "totalCoolingDown"),
        "vvv": ("totalSupply",),
        "controller": ("emitted", "stakerEmitted", "treasuryEmitted"),
        "burner": ("totalSpent", "totalBought", "totalBurned"),
        "subscriptions": ("totalPaid", "totalBurnPart"),
    }
    for contract, names in totals.items():
        for name in names:
            reads[f"{contract}.{name}"] = getattr(c[contract].functions, name)()
    out = dict(zip(reads, call_all(list(reads.values())), strict=True))
    # Reserves, price cumulatives, LP balances: the pool the buyback trades with.
    out["pool"] = storage_root(w["pair"])
    return out


def script(w: dict[str, Any], start: int) -> list[tuple[str, Callable[[], Any]]]:
    """The actions after the donation, each at a fixed time."""
    c = w["c"]
    s, d = c["staking"].functions, c["diem"].functions
    bb, subs = c["burner"].functions, c["subscriptions"].functions
    alice, bob, carol, o = w["alice"], w["bob"], w["carol"], w["owner"]
    t = start + 8 * DAY
    window = bb.minTwapWindow().call()

    def buyback() -> Any:
        amount = 1_000 * USDC
        mine(t + window + 9)  # a TWAP window after the keeper's observation
        _, floor = bb.quote(amount).call()
        return send(bb.buyback(amount, floor, t + window + 600), o, t + window + 10)

    def claim_airdrop() -> Any:
        proof = w["tree"].proof(bob)
        return send(c["airdrop"].functions.claim(250 * VVV, proof, False), bob, t + 10)

    def burn_rest() -> Any:
        return send(c["airdrop"].functions.burnUnclaimed(), carol, w["deadline"] + 1)

    return [
        ("time passes", lambda: mine(t)),
        ("alice claims", lambda: send(s.claim(), alice, t + 1)),
        ("bob compounds", lambda: send(s.claimAndStake(), bob, t + 2)),
        ("alice finalizes her unstake", lambda: send(s.finalizeUnstake(), alice, t + 3)),
        ("the treasury is released", lambda: send(s.releaseTreasury(), carol, t + 4)),
        ("alice burns half her DIEM", lambda: send(s.burnDiem(500 * VVV), alice, t + 5)),
        ("alice's DIEM cooldown ends", lambda: send(d.unstake(), alice, t + 6)),
        ("carol renews", lambda: send(subs.subscribe(0, 2, carol), carol, t + 7)),
        ("the keeper observes the pool", lambda: send(bb.update(), o, t + 8)),
        ("bob claims his airdrop", claim_airdrop),
        ("the keeper buys back", buyback),
        ("the airdrop's rest is burned", burn_rest),
    ]


def play(w: dict[str, Any], token: str | None, recipient: str) -> tuple[list, bytes, bytes]:
    """The accounting after the donation (or an empty block) and after every action; and the
    recipient's storage root before and after the donation."""
    start = now() + 10
    target = w["c"][recipient].address
    root = storage_root(target)
    if token is None:
        mine(start)  # the same blocks at the same times as with a donation
    else:
        send(w["c"][token].functions.transfer(target, DONATION[token]), w["attacker"], start)
    states = [accounting(w)]
    root_after = storage_root(target)
    for _, action in script(w, start):
        action()
        states.append(accounting(w))
    return states, root, root_after


def compare(w: dict[str, Any], token: str, recipient: str) -> list[tuple[str, dict, dict]]:
    """(step, without, with) the donation, for the donation itself and every later action.
    The chain is left after the run with the donation."""
    with rewound():
        without, _, _ = play(w, None, recipient)
    with_donation, root, root_after = play(w, token, recipient)
    # The recipient does not even notice: its own storage is untouched.
    assert root_after == root
    names = ["the donation"] + [name for name, _ in script(w, 0)]
    return list(zip(names, without, with_donation, strict=True))


def donated(w: dict[str, Any], token: str, recipient: str, state: dict) -> dict:
    """`state` with the donation moved from the attacker to the recipient."""
    label = token.upper()
    expected = dict(state)
    expected[f"{label} held by {recipient}"] += DONATION[token]
    expected[f"{label} {w['attacker']}"] -= DONATION[token]
    return expected


@pytest.mark.parametrize("recipient", ["staking", "diem", "subscriptions", "controller"])
def test_vvv_donation__stays_in_the_contract_counted_by_nothing(world, recipient):
    for step, without, with_donation in compare(world, "vvv", recipient):
        assert with_donation == donated(world, "vvv", recipient, without), step


def test_vvv_donation_to_the_staking_contract__is_not_stake_and_pays_out_to_no_one(world):
    """Its VVV balance is stakes + cooldowns + the donation, at every step: every payout
    (finalized unstakes) is exactly what was owed, and the donation is never counted."""
    for step, _, state in compare(world, "vvv", "staking"):
        staked, cooling = state["staking.totalStaked"], state["staking.totalCoolingDown"]
        assert state["VVV held by staking"] == staked + cooling + DONATION["vvv"], step


@pytest.mark.parametrize("recipient", ["subscriptions", "airdrop", "controller"])
def test_diem_donation__stays_in_the_contract_counted_by_nothing(world, recipient):
    for step, without, with_donation in compare(world, "diem", recipient):
        assert with_donation == donated(world, "diem", recipient, without), step


def test_vvv_donation_to_the_burner__is_burned_by_the_next_buyback(world):
    bought = None
    for step, without, with_donation in compare(world, "vvv", "burner"):
        expected = donated(world, "vvv", "burner", without)
        if bought or step == "the keeper buys back":
            bought = True
            expected["burner.totalBurned"] += DONATION["vvv"]
            expected["VVV held by burner"] = 0
            expected["vvv.totalSupply"] -= DONATION["vvv"]
        assert with_donation == expected, step
    assert bought


def test_vvv_donation_to_the_airdrop__claims_pay_their_leaves_and_the_rest_burn_takes_it(world):
    burned = False
    for step, without, with_donation in compare(world, "vvv", "airdrop"):
        expected = donated(world, "vvv", "airdrop", without)
        if step == "the airdrop's rest is burned":
            burned = True
            expected["VVV held by airdrop"] = 0
            expected["vvv.totalSupply"] -= DONATION["vvv"]
        assert with_donation == expected, step
    assert burned


def test_diem_donation_to_the_burner__stays_until_governance_recovers_it(world):
    for step, without, with_donation in compare(world, "diem", "burner"):
        assert with_donation == donated(world, "diem", "burner", without), step
    c, attacker = world["c"], world["attacker"]
    before = c["diem"].functions.balanceOf(attacker).call()
    burner = c["burner"].functions
    send(burner.recoverToken(c["diem"].address, attacker, DONATION["diem"]), world["owner"])
    assert c["diem"].functions.balanceOf(attacker).call() == before + DONATION["diem"]
    assert c["diem"].functions.balanceOf(c["burner"].address).call() == 0


@pytest.mark.parametrize(
    ("recipient", "reason"), [("diem", "DIEM: use stake()"), ("staking", "DIEM: use burnDiem()")]
)
def test_diem_donation_to_the_diem_or_staking_contract__is_refused(
    request, diem, attacker, storage_roots, world, recipient, reason
):
    to = request.getfixturevalue(recipient)
    before = storage_roots()
    with ape.reverts(reason):
        diem.transfer(to, DONATION["diem"], sender=attacker)
    diem.approve(attacker, DONATION["diem"], sender=attacker)
    with ape.reverts(reason):
        diem.transferFrom(attacker, to, DONATION["diem"], sender=attacker)
    after = storage_roots()
    assert {k: v for k, v in after.items() if k != "diem"} == {
        k: v for k, v in before.items() if k != "diem"
    }
    assert diem.allowance(attacker, attacker) == DONATION["diem"]  # only the approval changed DIEM
