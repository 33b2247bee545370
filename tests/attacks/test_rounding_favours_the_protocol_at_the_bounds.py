"""Precision at the extremes: every rounding favours the protocol, and nothing breaks at a bound.

- A one-wei stake beside a 1e9 VVV total earns the floor of its exact share (nothing), however
  often it pokes the accumulator, and never makes anyone else earn more than their exact share;
  alone first, one wei takes the whole stream exactly.
- The annual rate at the largest cap a controller accepts keeps staking working (its per-second
  rate fits the staking contract's 64 bits); zero and sub-wei-per-second rates emit nothing.
- At the ends of the split curve (0% and 100% to stakers) each side gets exactly its part.
- USDC has 6 decimals: subscription payments split to the base unit with no remainder, and the
  buyback's minimum out is rounded up from one base unit to the per-call cap.
The mint curve's end (past-the-end refusals, exact-out telescoping, quoteCost(quoteMint(x)) <= x)
is tested in tests/unit/mint_curve/test_mint_curve.py.
"""

from __future__ import annotations

from fractions import Fraction

import ape
import pytest
from ape import project
from hypothesis import given
from hypothesis import strategies as st
from web3.logs import DISCARD

from tests.support.chain import deploy, now, rewound
from tests.support.constants import BPS, DAY, MAX_UINT, USDC, VVV, YEAR
from tests.support.profiles import MODEST
from venice_ops.rpc import Reverted, bind, call_all, mine, send

Q112 = 2**112
MASK_64 = 2**64 - 1
WHALE = 1_000_000_000 * VVV
# The largest cap whose per-second rate fits the staking contract's 64-bit rate.
LARGEST_CAP = MASK_64 * YEAR


def fresh(owner, treasury, oracle, whale, small, cap: int, rate: int, staker_bps: int = BPS):
    """A VVV with a 1e9 VVV holder, a controller (flat split: `staker_bps` to stakers) and a
    staking contract, wired; web3-bound."""
    o = owner.address
    vvv = deploy(project.VVV, [whale, small], [WHALE, 1_000 * VVV], sender=o)
    curve = [(0, staker_bps), (BPS, staker_bps)]
    controller = deploy(
        project.EmissionsController,
        cap,
        rate,
        curve,
        2 * DAY,
        staker_bps,
        treasury.address,
        oracle.address,
        sender=o,
    )
    staking = deploy(
        project.StakedVVV, vvv.address, controller.address, 7 * DAY, 2_000, 0, sender=o
    )
    send(vvv.functions.setMinter(staking.address), o)
    send(controller.functions.setStaking(staking.address), o)
    for who in (whale, small):
        send(vvv.functions.approve(staking.address, MAX_UINT), who)
    return vvv, controller, staking


@pytest.fixture(scope="module")
def big(owner, treasury, oracle, bob, attacker):
    """A suite at the default cap and rate, with a 1e9 VVV holder (bob)."""
    cap = 14_000_000 * VVV
    return fresh(owner, treasury, oracle, bob.address, attacker.address, cap, cap)


@MODEST
@given(gaps=st.lists(st.integers(1, 30 * DAY), min_size=1, max_size=8))
def test_one_wei_beside_1e9_vvv__earns_its_floor_and_no_one_more_than_their_share(
    big, bob, attacker, gaps
):
    """The whale stakes 1e9 VVV, the attacker one wei, then pokes (stakes one more wei) after
    each gap. Each side's rewards are at most its exact rational share and the whale's within
    2 wei of it; the attacker's exact share is under a wei, so it earns nothing; together they
    never exceed what was emitted to stakers."""
    vvv, controller, staking = big
    s = staking.functions
    whale, small = bob.address, attacker.address
    rate = controller.functions.currentAnnualRate().call() // YEAR
    with rewound():
        t = now() + 10
        send(s.stake(whale, WHALE), whale, t)
        send(s.stake(small, 1), small, t + 1)
        exact = {whale: Fraction(rate * 1), small: Fraction(0)}  # the first second: whale alone
        stake = {whale: WHALE, small: 1}
        t += 1
        for gap in gaps:
            total = stake[whale] + stake[small]
            for who in (whale, small):
                exact[who] += Fraction(rate * gap * stake[who], total)
            t += gap
            send(s.stake(small, 1), small, t)
            stake[small] += 1
        reads = call_all([s.pendingRewards(whale), s.pendingRewards(small)])
        pending = dict(zip((whale, small), reads, strict=True))
        assert exact[small] < 1 and pending[small] == 0
        assert exact[whale] - 2 < pending[whale] <= exact[whale]
        assert pending[whale] + pending[small] <= controller.functions.stakerEmitted().call()
        # Claiming mints exactly what was pending: nothing more.
        supply = vvv.functions.totalSupply().call()
        send(s.claim(), whale, t + 1)
        earned_last_second = Fraction(rate * stake[whale], stake[whale] + stake[small])
        minted = vvv.functions.totalSupply().call() - supply
        assert pending[whale] <= minted <= exact[whale] + earned_last_second
        with pytest.raises(Reverted, match="sVVV: nothing to claim"):
            send(s.claim(), small, t + 2)


def test_one_wei_alone__takes_the_whole_stream_exactly_then_nothing_beside_1e9(big, bob, attacker):
    vvv, controller, staking = big
    s = staking.functions
    whale, small = bob.address, attacker.address
    rate = controller.functions.currentAnnualRate().call() // YEAR
    t = now() + 10
    send(s.stake(small, 1), small, t)
    send(s.stake(whale, WHALE), whale, t + DAY)
    mine(t + 2 * DAY)
    # Alone for a day: delta = amount * 1e36 // 1 is exact, and so is one wei's share of it.
    assert s.pendingRewards(small).call() == rate * DAY
    whale_exact = Fraction(rate * DAY * WHALE, WHALE + 1)
    assert whale_exact - 1 < s.pendingRewards(whale).call() <= whale_exact
    assert s.pendingRewards(small).call() == rate * DAY  # its next-day share is under a wei
    supply = vvv.functions.totalSupply().call()
    send(s.claim(), small, t + 2 * DAY + 1)
    assert vvv.functions.totalSupply().call() - supply == rate * DAY


def test_largest_cap__staking_works_at_the_top_rate_and_a_larger_cap_is_refused(
    owner, treasury, oracle, alice, carol
):
    """A per-second rate above 64 bits would make every accrual of the staking contract revert
    (stake, unstake, claim) and, since a rate change checkpoints first, could never be undone.
    The controller refuses such a cap; at the largest one it accepts, staking works."""
    _, controller, staking = fresh(
        owner, treasury, oracle, alice.address, carol.address, LARGEST_CAP, LARGEST_CAP
    )
    s, a = staking.functions, alice.address
    t = now() + 10
    send(s.stake(a, WHALE), a, t)
    mine(t + DAY)
    exact = MASK_64 * DAY
    assert exact - 1 <= s.pendingRewards(a).call() <= exact
    send(s.initiateUnstake(VVV), a, t + DAY + 1)
    send(s.claim(), a, t + DAY + 2)
    send(controller.functions.setAnnualRate(0), owner.address, t + DAY + 3)
    with ape.reverts("emissions: cap too large"):
        project.EmissionsController.deploy(
            LARGEST_CAP + YEAR,
            0,
            [(0, BPS), (BPS, BPS)],
            2 * DAY,
            BPS,
            treasury,
            oracle,
            sender=owner,
        )


@pytest.mark.parametrize("annual", [0, YEAR - 1], ids=["zero", "under_a_wei_per_second"])
def test_zero_rate__nothing_accrues_nothing_mints(owner, treasury, oracle, alice, carol, annual):
    """annual // 31_536_000 wei per second: below a wei per second is nothing at all."""
    vvv, controller, staking = fresh(
        owner, treasury, oracle, alice.address, carol.address, 14_000_000 * VVV, annual
    )
    s, a = staking.functions, alice.address
    supply = vvv.functions.totalSupply().call()
    t = now() + 10
    send(s.stake(a, WHALE), a, t)
    mine(t + YEAR)
    assert s.pendingRewards(a).call() == 0
    assert controller.functions.emitted().call() == 0
    for fn, reason in (
        (s.claim(), "nothing to claim"),
        (s.releaseTreasury(), "nothing to release"),
    ):
        with pytest.raises(Reverted, match=reason):
            send(fn, a, t + YEAR + 1)
    assert vvv.functions.totalSupply().call() == supply


@pytest.mark.parametrize("staker_bps", [0, BPS], ids=["all_to_the_treasury", "all_to_stakers"])
def test_split_curve_ends__each_side_gets_exactly_its_part(
    owner, treasury, oracle, alice, carol, staker_bps
):
    cap = 14_000_000 * VVV
    _, controller, staking = fresh(
        owner, treasury, oracle, alice.address, carol.address, cap, cap, staker_bps
    )
    s, a = staking.functions, alice.address
    t = now() + 10
    send(s.stake(a, WHALE), a, t)
    start = controller.functions.lastCheckpoint().call()
    mine(t + 30 * DAY)
    emitted = cap // YEAR * (t + 30 * DAY - start)
    c = controller.functions
    assert c.emitted().call() == emitted
    assert c.stakerEmitted().call() == emitted * staker_bps // BPS
    assert c.treasuryEmitted().call() == emitted - emitted * staker_bps // BPS
    staked_part = cap // YEAR * (30 * DAY) * staker_bps // BPS
    assert staked_part - 1 <= s.pendingRewards(a).call() <= staked_part
    assert s.treasuryReleasable().call() == c.treasuryEmitted().call()


@MODEST
@given(
    price=st.one_of(st.just(1), st.integers(1, 10**12)),
    burn_share=st.fractions(0, 1),
    periods=st.integers(1, 36),
)
def test_usdc_base_units__a_payment_splits_exactly_with_nothing_left(
    suite, owner, treasury, carol, price, burn_share, periods
):
    """Any price (down to one base unit) and burn part: the payer pays price x periods, the
    burner gets burn x periods, the treasury the rest, the contract keeps nothing."""
    subs, usdc = bind(suite.subscriptions), bind(suite.usdc)
    burn = int(price * burn_share)
    with rewound():
        send(subs.functions.setTier(3, price, burn), owner.address)
        cost = price * periods
        send(usdc.functions.mint(carol.address, cost), owner.address)
        send(usdc.functions.approve(subs.address, cost), carol.address)
        holders = [carol.address, suite.burner.address, treasury.address, subs.address]
        before = call_all([usdc.functions.balanceOf(h) for h in holders])
        paid = call_all([subs.functions.totalPaid(), subs.functions.totalBurnPart()])
        send(subs.functions.subscribe(3, periods, carol.address), carol.address)
        after = call_all([usdc.functions.balanceOf(h) for h in holders])
        deltas = [b - a for a, b in zip(before, after, strict=True)]
        assert deltas == [-cost, burn * periods, (price - burn) * periods, 0]
        totals = call_all([subs.functions.totalPaid(), subs.functions.totalBurnPart()])
        assert totals == [paid[0] + cost, paid[1] + burn * periods]


@MODEST
@given(amount=st.one_of(st.just(1), st.integers(1, 50_000 * USDC)))
def test_usdc_base_units__the_buyback_floor_is_rounded_up_to_the_wei(
    chain, suite, keeper, fund_usdc, amount
):
    """From one base unit to the per-call cap: the least VVV a buyback accepts is the TWAP
    amount less the bound, rounded up; a minimum one wei lower is refused, and the buyback at
    the floor burns exactly what the pool paid."""
    burner = bind(suite.burner)
    b = burner.functions
    with rewound():
        send(bind(suite.usdc).functions.mint(burner.address, amount), keeper.address)
        send(b.update(), keeper.address)  # a fresh observation if the last is old
        t = now() + b.minTwapWindow().call() + 1
        mine(t)
        twap, slip = b.twapPrice().call(), b.maxSlippageBps().call()
        _, floor = b.quote(amount).call()
        numerator = amount * twap * (BPS - slip)
        assert floor == -(-numerator // (Q112 * BPS))
        assert (floor - 1) * Q112 * BPS < numerator <= floor * Q112 * BPS
        with pytest.raises(Reverted, match="min out below TWAP floor"):
            send(b.buyback(amount, max(floor - 1, 1), t + 600), keeper.address, t + 1)
        supply = bind(suite.vvv).functions.totalSupply().call()
        receipt = send(b.buyback(amount, floor, t + 600), keeper.address, t + 2)
        logs = {"logs": receipt.logs}
        [event] = burner.events.BuybackExecuted().process_receipt(logs, errors=DISCARD)  # type: ignore[arg-type]
        assert event["args"]["vvvBought"] >= floor
        assert event["args"]["vvvBurned"] == event["args"]["vvvBought"]
        assert supply - bind(suite.vvv).functions.totalSupply().call() == event["args"]["vvvBurned"]
