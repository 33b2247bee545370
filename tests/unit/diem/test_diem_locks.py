"""StakedVVV and DIEM: mintDiem / mintExactDiem lock sVVV behind DIEM, burnDiem releases it,
locked stake cannot leave, and earns 80% (the treasury the other 20%).

Expected values are computed here:
- quotes from an independent Fraction re-derivation of C(S) (tests/support/curve.py):
  a mint of X at supply S gives the largest D with C(S + D) <= C(S) + X, C exact (rational);
- burns release d * locked // outstanding, and all that is locked for the last DIEM;
- rewards with the accumulator's integer math: delta = amount * 10**36 // totalStaked,
  unlocked stake earns stake * delta // 10**36, locked stake locked * delta * 8000 //
  (10_000 * 10**36), and the treasury's cut grows by totalLocked * delta * 2000 //
  (10_000 * 10**36).
Over 500 lines on purpose: one contract feature (locks behind DIEM) and its hand-computed
figures, which the tests share.
"""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from tests.support.chain import refused_changing_nothing
from tests.support.constants import BPS, MAX_UINT, PRECISION, STEP, VVV, ZERO
from tests.support.curve import exact_cost, floor_cost
from tests.support.emissions import integrate, staker_per_second
from tests.support.events import contract_events
from venice_ops.rpc import Reverted, bind, send

LOCKED_BPS = 2_000
STAKE = 200_000 * VVV


@pytest.fixture
def rate(config):
    """Stakers' wei per second under the default config and no report."""
    return staker_per_second(config.annual_rate, config.stale_staker_bps)


@pytest.fixture
def rates(curve):
    return list(curve.knots())


@pytest.fixture
def stakers(fund, staking, alice, bob):
    """alice and bob: 200_000 VVV staked each, 800_000 more in their wallets."""
    for account in (alice, bob):
        fund(account, 1_000_000 * VVV)
        staking.stake(account, STAKE, sender=account)


def _delta(amount: int, total: int) -> int:
    return amount * PRECISION // total


def _earned(stake: int, delta: int) -> int:
    return stake * delta // PRECISION


def _earned_locked(locked: int, delta: int) -> int:
    return locked * delta * (BPS - LOCKED_BPS) // (BPS * PRECISION)


def _cut(locked: int, delta: int) -> int:
    return locked * delta * LOCKED_BPS // (BPS * PRECISION)


def _expected_mint(rates, supply: int, svvv: int) -> int:
    """The largest D with C(S + D) <= C(S) + X, by bisection on the independent exact C."""
    target = exact_cost(rates, supply) + svvv
    low, high = 0, (len(rates) - 1) * STEP - supply
    while high - low > 1:
        mid = (low + high) // 2
        if exact_cost(rates, supply + mid) <= target:
            low = mid
        else:
            high = mid
    return low


def _reverts(fn, sender) -> str:
    """Send `fn` through plain web3 (a mined, failed transaction) and return its revert
    reason. For mintDiem: ape's source traceback of a revert that follows the curve's
    69-round quote loop costs seconds per revert."""
    with pytest.raises(Reverted) as exc:
        send(fn, sender.address)
    return exc.value.reason


# ------------------------------------------------------------------ mintDiem


def test_mintDiem__locks_and_mints_the_quote(staking, diem, stakers, rates, alice):
    x = 45_678 * VVV + 9
    quote = staking.getDiemAmountOut(x)
    assert quote == _expected_mint(rates, 0, x)
    tx = staking.mintDiem(x, quote, sender=alice)  # the quote itself as the minimum
    assert tx.return_value == quote
    assert staking.lockedStakes(alice) == (x, quote)
    assert staking.balanceOf(alice) == STAKE  # locked stake is still stake
    assert staking.totalStaked() == 2 * STAKE
    assert staking.totalLocked() == x
    assert staking.totalDiemOutstanding() == quote == diem.totalSupply()
    assert diem.balanceOf(alice) == quote
    assert contract_events(tx, staking) == [
        (
            "DiemMinted",
            {
                "account": alice.address,
                "sVVVLocked": x,
                "diemMinted": quote,
                "sVVVLockedAmount": x,
                "outstandingDiemAmount": quote,
            },
        )
    ]
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": quote})
    ]


def test_mintDiem__second_mint_quotes_at_the_new_supply(staking, diem, stakers, rates, alice, bob):
    x1, x2 = 90_000 * VVV, 50_000 * VVV + 1
    d1 = staking.getDiemAmountOut(x1)
    staking.mintDiem(x1, 0, sender=alice)
    at_zero = _expected_mint(rates, 0, x2)
    d2 = staking.getDiemAmountOut(x2)
    assert d2 == _expected_mint(rates, d1, x2) < at_zero  # the curve rises
    tx = staking.mintDiem(x2, d2, sender=bob)
    assert contract_events(tx, staking)[0][1]["diemMinted"] == d2
    d3 = staking.getDiemAmountOut(x2)
    assert d3 == _expected_mint(rates, d1 + d2, x2)
    tx = staking.mintDiem(x2, d3, sender=alice)
    assert staking.lockedStakes(alice) == (x1 + x2, d1 + d3)
    assert staking.lockedStakes(bob) == (x2, d2)
    assert contract_events(tx, staking)[0] == (
        "DiemMinted",
        {
            "account": alice.address,
            "sVVVLocked": x2,
            "diemMinted": d3,
            "sVVVLockedAmount": x1 + x2,
            "outstandingDiemAmount": d1 + d3,
        },
    )
    assert staking.totalLocked() == x1 + 2 * x2
    assert staking.totalDiemOutstanding() == d1 + d2 + d3 == diem.totalSupply()


def test_mintDiem__slippage__reverts_and_changes_nothing(
    staking, diem, stakers, alice, storage_roots
):
    x = 10_000 * VVV
    quote = staking.getDiemAmountOut(x)
    roots = storage_roots()
    assert _reverts(bind(staking).functions.mintDiem(x, quote + 1), alice) == "sVVV: slippage"
    assert storage_roots() == roots
    assert staking.lockedStakes(alice) == (0, 0)
    assert diem.totalSupply() == 0


# ------------------------------------------------------------------ mintExactDiem


def test_mintExactDiem__mints_exactly_and_locks_the_quote(
    staking, diem, stakers, rates, alice, bob
):
    staking.mintExactDiem(321 * VVV, MAX_UINT, sender=bob)  # supply is not zero
    supply = 321 * VVV
    d = 123 * VVV + 4
    cost = staking.getSVVVAmountIn(d)
    assert cost == floor_cost(rates, supply + d) - floor_cost(rates, supply)
    tx = staking.mintExactDiem(d, cost, sender=alice)  # the quote itself as the maximum
    assert tx.return_value == cost
    assert staking.lockedStakes(alice) == (cost, d)
    assert diem.balanceOf(alice) == d
    assert staking.totalDiemOutstanding() == supply + d == diem.totalSupply()
    assert staking.totalLocked() == cost + staking.lockedStakes(bob)[0]
    assert contract_events(tx, staking) == [
        (
            "DiemMinted",
            {
                "account": alice.address,
                "sVVVLocked": cost,
                "diemMinted": d,
                "sVVVLockedAmount": cost,
                "outstandingDiemAmount": d,
            },
        )
    ]


def test_mintExactDiem__slippage__reverts_and_changes_nothing(
    staking, stakers, alice, storage_roots
):
    d = 50 * VVV
    cost = staking.getSVVVAmountIn(d)
    refused_changing_nothing(
        storage_roots, "sVVV: slippage", lambda: staking.mintExactDiem(d, cost - 1, sender=alice)
    )


# ------------------------------------------------------------------ burnDiem


def test_burnDiem__partial_then_rest_releases_exactly(staking, diem, stakers, alice):
    d = 100 * VVV
    staking.mintExactDiem(d, MAX_UINT, sender=alice)
    locked, _ = staking.lockedStakes(alice)
    b1 = 33 * VVV + 1
    released1 = b1 * locked // d
    tx = staking.burnDiem(b1, sender=alice)
    assert tx.return_value == released1
    assert staking.lockedStakes(alice) == (locked - released1, d - b1)
    assert diem.balanceOf(alice) == d - b1
    assert diem.totalSupply() == staking.totalDiemOutstanding() == d - b1
    assert staking.totalLocked() == locked - released1
    assert staking.balanceOf(alice) == STAKE
    assert contract_events(tx, staking) == [
        (
            "DiemBurned",
            {
                "account": alice.address,
                "diemBurned": b1,
                "sVVVReleased": released1,
                "sVVVLockedAmount": locked - released1,
                "outstandingDiemAmount": d - b1,
            },
        )
    ]
    assert contract_events(tx, diem) == [
        ("Transfer", {"sender": alice.address, "receiver": ZERO, "value": b1})
    ]
    # The rest: exactly what is still locked, rounding included.
    tx = staking.burnDiem(d - b1, sender=alice)
    assert contract_events(tx, staking)[0][1]["sVVVReleased"] == locked - released1
    assert staking.lockedStakes(alice) == (0, 0)
    assert staking.totalLocked() == 0
    assert diem.totalSupply() == staking.totalDiemOutstanding() == 0


@given(
    svvv=st.one_of(st.integers(1_000, 10**6), st.integers(1, 190_000 * VVV)),
    weights=st.lists(st.integers(1, 1_000), min_size=1, max_size=5),
)
@settings(
    max_examples=30,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_burnDiem__mint_then_burn_all_returns_exactly_the_lock(
    chain, staking, stakers, alice, svvv, weights
):
    fast = bind(staking)
    quote = fast.functions.getDiemAmountOut(svvv).call()
    assume(quote > 0)
    parts = [quote * w // sum(weights) for w in weights]
    parts[-1] += quote - sum(parts)
    assume(all(parts))
    snapshot = chain.snapshot()
    try:
        send(fast.functions.mintDiem(svvv, quote), alice.address)
        assert fast.functions.lockedStakes(alice.address).call() == [svvv, quote]
        locked, outstanding, released = svvv, quote, 0
        for part in parts:
            expected = locked if part == outstanding else part * locked // outstanding
            receipt = send(fast.functions.burnDiem(part), alice.address)
            (event,) = fast.events.DiemBurned().process_receipt(
                {"logs": receipt.logs}, errors=DISCARD
            )
            assert event["args"]["sVVVReleased"] == expected
            locked, outstanding = locked - expected, outstanding - part
            released += expected
            assert fast.functions.lockedStakes(alice.address).call() == [locked, outstanding]
        assert (locked, outstanding, released) == (0, 0, svvv)
        assert fast.functions.totalLocked().call() == 0
        assert fast.functions.totalDiemOutstanding().call() == 0
        assert fast.functions.balanceOf(alice.address).call() == STAKE
    finally:
        chain.restore(snapshot)


def test_burnDiem__bought_diem_unlocks_nothing(staking, diem, stakers, alice, bob, storage_roots):
    staking.mintExactDiem(10 * VVV, MAX_UINT, sender=alice)
    diem.transfer(bob, 10 * VVV, sender=alice)  # bob buys alice's DIEM
    refused_changing_nothing(
        storage_roots, "sVVV: no DIEM outstanding", lambda: staking.burnDiem(VVV, sender=bob)
    )
    assert staking.lockedStakes(bob) == (0, 0)
    assert diem.balanceOf(bob) == 10 * VVV
    # And alice, whose lock it is, no longer holds the DIEM to burn.
    with ape.reverts("erc20: burn amount exceeds balance"):
        staking.burnDiem(VVV, sender=alice)
    assert staking.lockedStakes(alice)[1] == 10 * VVV


def test_burnDiem__more_than_outstanding__reverts(staking, diem, stakers, alice, bob):
    staking.mintExactDiem(10 * VVV, MAX_UINT, sender=alice)
    staking.mintExactDiem(5 * VVV, MAX_UINT, sender=bob)
    diem.transfer(bob, 10 * VVV, sender=alice)
    locked_bob = staking.lockedStakes(bob)[0]
    with ape.reverts("sVVV: burn exceeds outstanding"):
        staking.burnDiem(5 * VVV + 1, sender=bob)
    assert staking.lockedStakes(bob) == (locked_bob, 5 * VVV)
    # Any DIEM bob holds burns against his own outstanding, up to it.
    tx = staking.burnDiem(5 * VVV, sender=bob)
    assert contract_events(tx, staking)[0][1]["sVVVReleased"] == locked_bob
    assert diem.balanceOf(bob) == 10 * VVV
    assert staking.lockedStakes(alice)[1] == 10 * VVV


def test_burnDiem__staked_diem_cannot_be_burned(staking, diem, stakers, alice):
    staking.mintExactDiem(10 * VVV, MAX_UINT, sender=alice)
    diem.stake(4 * VVV, sender=alice)
    with ape.reverts("erc20: burn amount exceeds balance"):
        staking.burnDiem(6 * VVV + 1, sender=alice)
    staking.burnDiem(6 * VVV, sender=alice)
    assert staking.lockedStakes(alice)[1] == 4 * VVV
    assert diem.stakedInfos(alice) == (4 * VVV, 0, 0)


# ------------------------------------------------------------------ locked stake stays


def test_initiateUnstake__locked_stake__reverts(staking, diem, stakers, alice):
    x = 150_000 * VVV
    staking.mintDiem(x, 0, sender=alice)
    free = STAKE - x
    with ape.reverts("sVVV: stake is locked"):
        staking.initiateUnstake(free + 1, sender=alice)
    staking.initiateUnstake(free, sender=alice)  # the unlocked part may leave
    assert staking.balanceOf(alice) == x
    with ape.reverts("sVVV: stake is locked"):
        staking.initiateUnstake(1, sender=alice)
    # Burning all of its DIEM frees it.
    staking.burnDiem(diem.balanceOf(alice), sender=alice)
    staking.initiateUnstake(x, sender=alice)
    assert staking.balanceOf(alice) == 0
    assert staking.cooldowns(alice)[0] == STAKE


def test_mint__not_enough_unlocked_stake__reverts(staking, stakers, alice, attacker, storage_roots):
    fast = bind(staking).functions
    reason = "sVVV: not enough unlocked stake"
    roots = storage_roots()
    assert _reverts(fast.mintDiem(STAKE + 1, 0), alice) == reason
    assert _reverts(fast.mintDiem(VVV, 0), attacker) == reason  # no stake at all
    assert storage_roots() == roots
    staking.mintDiem(120_000 * VVV, 0, sender=alice)
    assert _reverts(fast.mintDiem(80_000 * VVV + 1, 0), alice) == reason
    cost = staking.getSVVVAmountIn(VVV)
    assert cost > 0
    staking.initiateUnstake(80_000 * VVV - cost + 1, sender=alice)  # cooling stake is not stake
    with ape.reverts(reason):
        staking.mintExactDiem(VVV, MAX_UINT, sender=alice)
    cost_less = staking.getSVVVAmountIn(VVV - 1)
    assert cost_less <= cost - 1
    outstanding = staking.lockedStakes(alice)[1]
    staking.mintExactDiem(VVV - 1, MAX_UINT, sender=alice)
    assert staking.lockedStakes(alice) == (120_000 * VVV + cost_less, outstanding + VVV - 1)
    assert staking.balanceOf(alice) == 120_000 * VVV + cost - 1


# ------------------------------------------------------------------ locked yield: 80%


def test_pendingRewards__locked_stake_earns_80_percent(
    staking, stakers_two, alice, bob, rate, at, mine_at, t0
):
    a = stakers_two
    r1 = _delta(rate, a)  # alice alone for one second
    r2 = r1 + _delta(rate, 2 * a)
    assert staking.rewardPerTokenStored() == r2
    assert staking.lockedStakes(alice) == (a, staking.totalDiemOutstanding())
    cut0 = staking.lockedCutAccrued()
    assert cut0 == 0
    period = 86_400
    mine_at(t0 + 2 + period)
    delta = _delta(period * rate, 2 * a)
    assert staking.pendingRewards(alice) == _earned(a, r2) + _earned_locked(a, delta)
    assert staking.pendingRewards(bob) == _earned(a, r2 + delta - r1)
    assert staking.lockedCutAccrued() == cut0 + _cut(a, delta)
    # Over the period: alice 80% of bob's, and the treasury the other 20%, to the wei.
    alice_gain = staking.pendingRewards(alice) - _earned(a, r2)
    bob_gain = staking.pendingRewards(bob) - _earned(a, r2 - r1)
    assert alice_gain == a * delta * 8_000 // (BPS * PRECISION)
    assert abs(alice_gain * 10 - bob_gain * 8) <= 10
    assert abs(alice_gain + staking.lockedCutAccrued() - bob_gain) <= 2


@pytest.fixture
def stakers_two(fund, staking, alice, bob, at, t0):
    """alice stakes at t0, bob the same at t0 + 1, alice locks all of hers at t0 + 2."""
    a = 100_000 * VVV + 77
    for account in (alice, bob):
        fund(account, a)
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 1)
    staking.stake(bob, a, sender=bob)
    at(t0 + 2)
    staking.mintDiem(a, 0, sender=alice)
    return a


def test_pendingRewards__partial_lock_each_part_rounded(
    staking, fund, alice, rate, at, mine_at, t0
):
    a, locked = 50_000 * VVV + 3, 20_000 * VVV + 1
    fund(alice, a)
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 100)
    staking.mintDiem(locked, 0, sender=alice)
    mine_at(t0 + 5_100)
    r1 = _delta(100 * rate, a)
    delta = _delta(5_000 * rate, a)
    assert staking.pendingRewards(alice) == (
        _earned(a, r1) + _earned(a - locked, delta) + _earned_locked(locked, delta)
    )
    assert staking.lockedCutAccrued() == _cut(locked, delta)


def test_pendingRewards__burn_restores_the_full_rate(
    staking, diem, fund, alice, rate, at, mine_at, t0
):
    a = 10_000 * VVV
    fund(alice, a)
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 10)
    staking.mintDiem(a, 0, sender=alice)
    at(t0 + 1_010)
    staking.burnDiem(diem.balanceOf(alice), sender=alice)
    assert staking.lockedStakes(alice) == (0, 0)
    mine_at(t0 + 3_010)
    d1, d2, d3 = (_delta(s * rate, a) for s in (10, 1_000, 2_000))
    assert staking.pendingRewards(alice) == (
        _earned(a, d1) + _earned_locked(a, d2) + _earned(a, d3)
    )
    assert staking.lockedCutAccrued() == _cut(a, d2)  # no longer grows


def test_releaseTreasury__mints_emitted_share_plus_locked_cut(
    staking,
    controller,
    vvv,
    stakers_two,
    config,
    treasury,
    attacker,
    genesis_checkpoint,
    rate,
    at,
    mine_at,
    t0,
):
    a = stakers_two
    end = t0 + 2 + 50_000
    mine_at(end)
    total, to_stakers = integrate(
        [(genesis_checkpoint, end, config.annual_rate, config.stale_staker_bps)]
    )
    cut = _cut(a, _delta(50_000 * rate, 2 * a))
    assert controller.treasuryEmitted() == total - to_stakers
    assert staking.lockedCutAccrued() == cut > 0
    assert staking.treasuryMinted() == 0
    due = total - to_stakers + cut
    assert staking.treasuryReleasable() == due
    before, supply = vvv.balanceOf(treasury), vvv.totalSupply()
    at(end)  # the same second as the views
    tx = staking.releaseTreasury(sender=attacker)
    assert vvv.balanceOf(treasury) == before + due
    assert vvv.totalSupply() == supply + due
    assert staking.treasuryMinted() == due
    assert contract_events(tx, staking) == [
        ("TreasuryReleased", {"treasury": treasury.address, "amount": due})
    ]


# ------------------------------------------------------------------ supply


def test_totalDiemOutstanding__equals_diem_supply(staking, diem, stakers, alice, bob, carol):
    def check():
        assert staking.totalDiemOutstanding() == diem.totalSupply()
        assert diem.totalSupply() == sum(staking.lockedStakes(x)[1] for x in (alice, bob))

    staking.mintDiem(30_000 * VVV, 0, sender=alice)
    check()
    staking.mintExactDiem(77 * VVV + 7, MAX_UINT, sender=bob)
    check()
    diem.transfer(carol, 50 * VVV, sender=bob)
    diem.stake(VVV, sender=alice)
    check()
    staking.burnDiem(20 * VVV + 3, sender=bob)
    check()
    staking.burnDiem(staking.lockedStakes(alice)[1] - VVV, sender=alice)
    check()
    assert diem.totalSupply() == (
        diem.balanceOf(alice) + diem.balanceOf(bob) + diem.balanceOf(carol) + diem.balanceOf(diem)
    )


def test_mintExactDiem__zero_cost__reverts(staking, curve, diem, owner, attacker):
    curve.setCurve([10**17, 10**17], sender=owner)  # 0.1 sVVV per DIEM: within the bounds
    assert staking.getSVVVAmountIn(9) == 0
    assert staking.balanceOf(attacker) == 0
    with ape.reverts("sVVV: locks no sVVV"):
        staking.mintExactDiem(9, 0, sender=attacker)
    # Nothing is minted against no stake:
    assert staking.lockedStakes(attacker) == (0, 0)
    assert diem.balanceOf(attacker) == 0
