"""StakedVVV: staking, exact reward accrual, claim, cooldown, treasury release, Pro, gas.

Expected rewards are hand-computed with the accumulator's integer math:
    rpt += amount * 10**36 // totalStaked      (amount = stakers' emission since last accrual)
    earned = stake * (rpt - paid) // 10**36
With no utilization report the split is the stale fallback (8000 bps to stakers), so the
stakers' rate is (annual // 31_536_000) * 8000 // 10_000 wei per second.
Over 500 lines on purpose: one contract's unit tests, whose expected figures share the
accumulator math above.
"""

from __future__ import annotations

import ape
import pytest

from tests.support.constants import PRECISION, VVV, ZERO
from tests.support.emissions import integrate, staker_per_second
from tests.support.events import contract_events

COOLDOWN = 604_800


def _delta(amount: int, total: int) -> int:
    return amount * PRECISION // total


def _earned(stake: int, delta: int) -> int:
    return stake * delta // PRECISION


# ------------------------------------------------------------------ metadata


def test_metadata__name_symbol_decimals(staking, vvv, controller, config):
    assert staking.name() == "Staked VVV"
    assert staking.symbol() == "sVVV"
    assert staking.decimals() == 18
    assert staking.VVV() == vvv.address
    assert staking.CONTROLLER() == controller.address
    assert staking.cooldownDuration() == config.cooldown == COOLDOWN
    assert staking.LOCKED_TREASURY_BPS() == config.locked_treasury_bps
    assert staking.proThreshold() == config.pro_threshold == 100 * VVV
    assert staking.totalSupply() == 0
    assert staking.totalStaked() == 0
    assert staking.totalCoolingDown() == 0


# ------------------------------------------------------------------ stake


def test_stake__for_self(staking, vvv, funded, alice):
    amount = 1_234 * VVV + 567
    before = vvv.balanceOf(alice)
    tx = staking.stake(alice, amount, sender=alice)
    assert staking.balanceOf(alice) == amount
    assert staking.totalSupply() == amount
    assert staking.totalStaked() == amount
    assert vvv.balanceOf(alice) == before - amount
    assert vvv.balanceOf(staking) == amount
    assert contract_events(tx, staking) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": amount}),
        ("Staked", {"sender": alice.address, "recipient": alice.address, "amount": amount}),
    ]
    assert contract_events(tx, vvv) == [
        ("Transfer", {"sender": alice.address, "receiver": staking.address, "value": amount})
    ]


def test_stake__for_another_recipient(staking, vvv, funded, alice, bob):
    amount = 50 * VVV
    bob_before = vvv.balanceOf(bob)
    alice_before = vvv.balanceOf(alice)
    tx = staking.stake(alice, amount, sender=bob)
    assert staking.balanceOf(alice) == amount
    assert staking.balanceOf(bob) == 0
    assert vvv.balanceOf(bob) == bob_before - amount
    assert vvv.balanceOf(alice) == alice_before
    assert staking.totalStaked() == amount
    assert contract_events(tx, staking) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": amount}),
        ("Staked", {"sender": bob.address, "recipient": alice.address, "amount": amount}),
    ]


def test_stake__adds_up(staking, funded, alice, bob):
    staking.stake(alice, 10 * VVV, sender=alice)
    staking.stake(alice, 5 * VVV, sender=bob)
    staking.stake(bob, 7 * VVV, sender=bob)
    assert staking.balanceOf(alice) == 15 * VVV
    assert staking.balanceOf(bob) == 7 * VVV
    assert staking.totalSupply() == 22 * VVV


# ------------------------------------------------------------------ pendingRewards


def test_pendingRewards__one_staker_exact(staking, funded, alice, rate, at, mine_at, t0):
    a = 1_234 * VVV + 567
    at(t0)
    staking.stake(alice, a, sender=alice)
    assert staking.pendingRewards(alice) == 0
    for dt in (1, 37, 86_400):
        mine_at(t0 + dt)
        assert staking.pendingRewards(alice) == _earned(a, _delta(dt * rate, a))
    # Under one wei of rounding loss against the stakers' emission.
    assert 0 <= 86_400 * rate - staking.pendingRewards(alice) <= 1


def test_rewards__accrued_as_of_the_last_update_only(staking, funded, alice, rate, at, mine_at, t0):
    """`rewards` is the stored part of `pendingRewards`: it moves when the account is
    updated (here by staking one more wei), not with time."""
    a = 1_000 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    mine_at(t0 + 100)
    assert staking.rewards(alice) == 0 < staking.pendingRewards(alice)
    at(t0 + 200)
    staking.stake(alice, 1, sender=alice)
    stored = _earned(a, _delta(200 * rate, a))
    assert staking.rewards(alice) == staking.pendingRewards(alice) == stored
    mine_at(t0 + 300)
    assert staking.rewards(alice) == stored < staking.pendingRewards(alice)


def test_pendingRewards__two_stakers_exact(staking, funded, alice, bob, rate, at, mine_at, t0):
    a, b = 1_000 * VVV + 1, 333 * VVV + 7
    t1, t2, t3 = t0, t0 + 1_000, t0 + 5_555
    at(t1)
    staking.stake(alice, a, sender=alice)
    at(t2)
    staking.stake(bob, b, sender=bob)
    rpt1 = _delta((t2 - t1) * rate, a)
    assert staking.rewardPerTokenStored() == rpt1
    assert staking.userRewardPerTokenPaid(bob) == rpt1
    mine_at(t3)
    rpt2 = rpt1 + _delta((t3 - t2) * rate, a + b)
    assert staking.pendingRewards(alice) == _earned(a, rpt2)
    assert staking.pendingRewards(bob) == _earned(b, rpt2 - rpt1)
    # Everything the stakers were given is at most what was emitted to them.
    given = staking.pendingRewards(alice) + staking.pendingRewards(bob)
    assert 0 <= (t3 - t1) * rate - given <= 3


def test_pendingRewards__three_stakers_with_restake(
    staking, funded, alice, bob, carol, rate, at, mine_at, t0
):
    a, b, c = 10 * VVV, 20 * VVV, 30 * VVV + 13
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 100)
    staking.stake(bob, b, sender=bob)
    at(t0 + 250)
    staking.stake(carol, c, sender=carol)
    at(t0 + 400)
    staking.stake(alice, a, sender=bob)  # alice's stake doubles, paid by bob
    mine_at(t0 + 1_000)
    r1 = _delta(100 * rate, a)
    r2 = r1 + _delta(150 * rate, a + b)
    r3 = r2 + _delta(150 * rate, a + b + c)
    r4 = r3 + _delta(600 * rate, 2 * a + b + c)
    assert staking.pendingRewards(alice) == _earned(a, r3) + _earned(2 * a, r4 - r3)
    assert staking.pendingRewards(bob) == _earned(b, r4 - r1)
    assert staking.pendingRewards(carol) == _earned(c, r4 - r2)


def test_pendingRewards__follows_a_rate_change(
    staking, controller, funded, owner, alice, rate, config, at, mine_at, t0
):
    a = 777 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 3_600)
    controller.setAnnualRate(2_000_000 * VVV, sender=owner)
    mine_at(t0 + 7_200)
    r1 = _delta(3_600 * rate, a)
    r2 = r1 + _delta(3_600 * staker_per_second(2_000_000 * VVV, 8000), a)
    assert staking.pendingRewards(alice) == _earned(a, r2)


def test_pendingRewards__across_schedule_and_staleness_without_a_call(
    staking, controller, funded, owner, oracle, alice, config, at, mine_at, t0
):
    """Nobody calls at the scheduled second or at the staleness deadline: one accrual
    step integrates the exact stakers' emission across both."""
    annual, age = config.annual_rate, config.max_report_age
    at(t0)
    controller.reportUtilization(5000, sender=oracle)  # 2000 bps until t0 + age
    start, new = t0 + 10_000, 3_000_000 * VVV
    at(t0 + 1)
    controller.scheduleRate(start, new, sender=owner)
    a = 4_321 * VVV + 9
    at(t0 + 2)
    staking.stake(alice, a, sender=alice)
    end = t0 + age + 5_000
    mine_at(end)
    _, stakers = integrate(
        [
            (t0 + 2, start, annual, 2000),
            (start, t0 + age, new, 2000),
            (t0 + age, end, new, config.stale_staker_bps),
        ]
    )
    assert staking.pendingRewards(alice) == _earned(a, _delta(stakers, a))
    # And a claim then mints exactly that.
    at(end)
    tx = staking.claim(sender=alice)
    assert contract_events(tx, staking)[-1] == (
        "RewardsClaimed",
        {"account": alice.address, "amount": _earned(a, _delta(stakers, a)), "restaked": False},
    )


def test_pendingRewards__nothing_staked_accrues_nothing(
    staking, funded, alice, rate, at, mine_at, t0
):
    # Emissions while nothing is staked are not handed to the first staker.
    at(t0 + 50_000)
    staking.stake(alice, VVV, sender=alice)
    assert staking.rewardPerTokenStored() == 0
    mine_at(t0 + 50_010)
    assert staking.pendingRewards(alice) == _earned(VVV, _delta(10 * rate, VVV))


# ------------------------------------------------------------------ rewardRate


def test_rewardRate__stakers_rate_now(
    staking, controller, funded, owner, oracle, alice, config, at, mine_at, t0
):
    annual = config.annual_rate
    at(t0)
    staking.stake(alice, VVV, sender=alice)
    assert staking.rewardRate() == staker_per_second(annual, 8000)
    at(t0 + 10)
    controller.reportUtilization(5000, sender=oracle)
    assert staking.rewardRate() == staker_per_second(annual, 2000)
    at(t0 + 20)
    controller.scheduleRate(t0 + 1_000, 2_500_000 * VVV, sender=owner)
    at(t0 + 30)
    staking.stake(alice, VVV, sender=alice)  # caches the rate until t0 + 1000
    mine_at(t0 + 999)
    assert staking.rewardRate() == staker_per_second(annual, 2000)
    mine_at(t0 + 1_001)
    assert staking.rewardRate() == staker_per_second(2_500_000 * VVV, 2000)
    mine_at(t0 + 10 + config.max_report_age + 1)
    assert staking.rewardRate() == staker_per_second(2_500_000 * VVV, 8000)


@pytest.mark.parametrize("boundary", ["scheduled_start", "stale_deadline"])
def test_rewardRate__at_the_second_the_rate_changes(
    staking, controller, funded, owner, oracle, alice, config, boundary, at, mine_at, t0
):
    annual, new = config.annual_rate, 2_500_000 * VVV
    at(t0)
    if boundary == "scheduled_start":
        controller.scheduleRate(t0 + 1_000, new, sender=owner)
        change, expected = t0 + 1_000, staker_per_second(new, 8000)
    else:
        controller.reportUtilization(5000, sender=oracle)
        change, expected = t0 + config.max_report_age, staker_per_second(annual, 8000)
    at(t0 + 10)
    staking.stake(alice, VVV, sender=alice)  # caches the rate until `change`
    mine_at(change)
    assert (
        controller.currentAnnualRate() // 31_536_000 * controller.currentStakerBps() // 10_000
        == expected
    )  # the controller: the new rate is in force at `change`
    assert staking.rewardRate() == expected


# ------------------------------------------------------------------ claim


def test_claim__mints_exactly_pending(staking, vvv, funded, alice, rate, at, mine_at, t0):
    a = 2_500 * VVV + 3
    at(t0)
    staking.stake(alice, a, sender=alice)
    expected = _earned(a, _delta(9_999 * rate, a))
    mine_at(t0 + 9_999)
    assert staking.pendingRewards(alice) == expected
    supply, balance = vvv.totalSupply(), vvv.balanceOf(alice)
    at(t0 + 9_999)  # the claim in the same second as the view
    tx = staking.claim(sender=alice)
    assert vvv.balanceOf(alice) == balance + expected
    assert vvv.totalSupply() == supply + expected
    assert staking.pendingRewards(alice) == 0
    assert staking.balanceOf(alice) == a
    assert contract_events(tx, staking) == [
        ("RewardsClaimed", {"account": alice.address, "amount": expected, "restaked": False})
    ]
    assert contract_events(tx, vvv) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": expected})
    ]
    # Accrual continues from the claim.
    mine_at(t0 + 10_100)
    rpt1 = _delta(9_999 * rate, a)
    rpt2 = rpt1 + _delta(101 * rate, a)
    assert staking.pendingRewards(alice) == _earned(a, rpt2 - rpt1)


def test_claim__two_stakers_each_get_their_share(staking, vvv, funded, alice, bob, rate, at, t0):
    a, b = 300 * VVV, 100 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 1)
    staking.stake(bob, b, sender=bob)
    rpt1 = _delta(rate, a)
    rpt2 = rpt1 + _delta(999 * rate, a + b)
    bob_before = vvv.balanceOf(bob)
    at(t0 + 1_000)
    staking.claim(sender=bob)
    assert vvv.balanceOf(bob) == bob_before + _earned(b, rpt2 - rpt1)
    alice_before = vvv.balanceOf(alice)
    at(t0 + 2_000)
    staking.claim(sender=alice)
    rpt3 = rpt2 + _delta(1_000 * rate, a + b)
    assert vvv.balanceOf(alice) == alice_before + _earned(a, rpt3)


def test_claimAndStake__adds_rewards_to_stake(staking, vvv, funded, alice, rate, at, mine_at, t0):
    a = 100 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    rpt1 = _delta(86_400 * rate, a)
    x = _earned(a, rpt1)
    balance, held = vvv.balanceOf(alice), vvv.balanceOf(staking)
    at(t0 + 86_400)
    tx = staking.claimAndStake(sender=alice)
    assert staking.balanceOf(alice) == a + x
    assert staking.totalStaked() == a + x
    assert vvv.balanceOf(alice) == balance
    assert vvv.balanceOf(staking) == held + x
    assert staking.pendingRewards(alice) == 0
    assert contract_events(tx, staking) == [
        ("Transfer", {"sender": ZERO, "receiver": alice.address, "value": x}),
        ("RewardsClaimed", {"account": alice.address, "amount": x, "restaked": True}),
    ]
    # The restaked rewards earn from now on.
    mine_at(t0 + 86_400 + 500)
    assert staking.pendingRewards(alice) == _earned(a + x, _delta(500 * rate, a + x))


# ------------------------------------------------------------------ unstake


def test_initiateUnstake__moves_stake_to_cooldown(staking, vvv, funded, alice, at, t0):
    a, u = 100 * VVV, 40 * VVV + 1
    staking.stake(alice, a, sender=alice)
    at(t0)
    tx = staking.initiateUnstake(u, sender=alice)
    assert staking.balanceOf(alice) == a - u
    assert staking.totalSupply() == a - u
    assert staking.totalStaked() == a - u
    assert staking.cooldowns(alice) == (u, t0 + COOLDOWN)
    assert staking.totalCoolingDown() == u
    assert vvv.balanceOf(staking) == a  # still held until finalized
    assert contract_events(tx, staking) == [
        ("Transfer", {"sender": alice.address, "receiver": ZERO, "value": u}),
        (
            "UnstakeInitiated",
            {
                "account": alice.address,
                "amount": u,
                "coolingDown": u,
                "unlockTime": t0 + COOLDOWN,
            },
        ),
    ]


def test_initiateUnstake__second_request_adds_and_restarts(staking, funded, alice, at, t0):
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + 3 * 86_400)
    tx = staking.initiateUnstake(15 * VVV, sender=alice)
    assert staking.cooldowns(alice) == (25 * VVV, t0 + 3 * 86_400 + COOLDOWN)
    assert staking.balanceOf(alice) == 75 * VVV
    assert staking.totalCoolingDown() == 25 * VVV
    assert contract_events(tx, staking)[-1] == (
        "UnstakeInitiated",
        {
            "account": alice.address,
            "amount": 15 * VVV,
            "coolingDown": 25 * VVV,
            "unlockTime": t0 + 3 * 86_400 + COOLDOWN,
        },
    )
    # The first request's unlock time no longer applies.
    at(t0 + COOLDOWN)
    with ape.reverts("sVVV: cooldown active"):
        staking.finalizeUnstake(sender=alice)


def test_initiateUnstake__cooling_amount_earns_nothing(
    staking, funded, alice, bob, rate, at, mine_at, t0
):
    a, b = 100 * VVV, 50 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 10)
    staking.stake(bob, b, sender=bob)
    at(t0 + 100)
    staking.initiateUnstake(a, sender=alice)  # all of alice's stake
    mine_at(t0 + 10_000)
    r1 = _delta(10 * rate, a)
    r2 = r1 + _delta(90 * rate, a + b)
    r3 = r2 + _delta(9_900 * rate, b)
    # Alice keeps what she earned before, and nothing since.
    assert staking.pendingRewards(alice) == _earned(a, r2)
    assert staking.pendingRewards(bob) == _earned(b, r3 - r1)


def test_initiateUnstake__partial_keeps_earning_on_the_rest(
    staking, funded, alice, rate, at, mine_at, t0
):
    a, u = 100 * VVV, 30 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 1_000)
    staking.initiateUnstake(u, sender=alice)
    mine_at(t0 + 3_000)
    r1 = _delta(1_000 * rate, a)
    r2 = r1 + _delta(2_000 * rate, a - u)
    assert staking.pendingRewards(alice) == _earned(a, r1) + _earned(a - u, r2 - r1)


def test_finalizeUnstake__before_cooldown__reverts(staking, funded, alice, at, t0):
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + COOLDOWN - 1)
    with ape.reverts("sVVV: cooldown active"):
        staking.finalizeUnstake(sender=alice)
    assert staking.cooldowns(alice) == (10 * VVV, t0 + COOLDOWN)
    assert staking.totalCoolingDown() == 10 * VVV


def test_finalizeUnstake__after_cooldown_pays_exactly(staking, vvv, funded, alice, at, t0):
    u = 10 * VVV + 11
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(u, sender=alice)
    before = vvv.balanceOf(alice)
    at(t0 + COOLDOWN)
    tx = staking.finalizeUnstake(sender=alice)
    assert vvv.balanceOf(alice) == before + u
    assert vvv.balanceOf(staking) == 100 * VVV - u
    assert staking.cooldowns(alice) == (0, 0)
    assert staking.totalCoolingDown() == 0
    assert staking.balanceOf(alice) == 100 * VVV - u
    assert contract_events(tx, staking) == [
        ("UnstakeFinalized", {"account": alice.address, "amount": u})
    ]
    assert contract_events(tx, vvv) == [
        ("Transfer", {"sender": staking.address, "receiver": alice.address, "value": u})
    ]


def test_finalizeUnstake__twice__reverts(staking, funded, alice, at, t0):
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + COOLDOWN)
    staking.finalizeUnstake(sender=alice)
    with ape.reverts("sVVV: nothing to finalize"):
        staking.finalizeUnstake(sender=alice)


def test_unstake__round_trip_returns_exactly_the_stake(staking, vvv, funded, alice, rate, at, t0):
    a = 12_345 * VVV + 6_789
    start_balance = vvv.balanceOf(alice)
    at(t0)
    staking.stake(alice, a, sender=alice)
    at(t0 + 5_000)
    staking.initiateUnstake(a, sender=alice)
    at(t0 + 5_000 + COOLDOWN)
    staking.finalizeUnstake(sender=alice)
    assert vvv.balanceOf(alice) == start_balance
    assert staking.balanceOf(alice) == 0
    assert staking.totalStaked() == 0
    # The rewards earned while staked are still claimable, and only those.
    earned = _earned(a, _delta(5_000 * rate, a))
    assert staking.pendingRewards(alice) == earned
    staking.claim(sender=alice)
    assert vvv.balanceOf(alice) == start_balance + earned


# ------------------------------------------------------------------ treasury


def test_releaseTreasury__mints_treasury_share(
    staking, controller, vvv, config, treasury, attacker, genesis_checkpoint, at, mine_at, t0
):
    L0, annual, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps

    def treasury_share(t):
        total, stakers = integrate([(L0, t, annual, stale)])
        return total - stakers

    mine_at(t0)
    assert staking.treasuryReleasable() == treasury_share(t0)
    assert controller.treasuryEmitted() == treasury_share(t0)
    before, supply = vvv.balanceOf(treasury), vvv.totalSupply()
    at(t0 + 10)
    tx = staking.releaseTreasury(sender=attacker)  # anyone may call
    due = treasury_share(t0 + 10)
    assert vvv.balanceOf(treasury) == before + due
    assert vvv.totalSupply() == supply + due
    assert staking.treasuryMinted() == due
    assert staking.treasuryReleasable() == 0
    assert contract_events(tx, staking) == [
        ("TreasuryReleased", {"treasury": treasury.address, "amount": due})
    ]
    # A later release mints only the new part.
    at(t0 + 1_010)
    staking.releaseTreasury(sender=attacker)
    assert vvv.balanceOf(treasury) == before + treasury_share(t0 + 1_010)


def test_releaseTreasury__with_stakers_equals_treasuryEmitted(
    staking, controller, vvv, funded, alice, treasury, at, mine_at, t0
):
    at(t0)
    staking.stake(alice, 500 * VVV, sender=alice)
    mine_at(t0 + 4_000)
    releasable = staking.treasuryReleasable()
    assert releasable == controller.treasuryEmitted()  # nothing locked
    before = vvv.balanceOf(treasury)
    at(t0 + 4_000)  # same second: the view above is exactly what is minted
    staking.releaseTreasury(sender=alice)
    assert vvv.balanceOf(treasury) == before + releasable
    assert staking.totalLocked() == 0
    assert staking.lockedCutAccrued() == 0


def test_releaseTreasury__goes_to_new_treasury(
    staking, controller, vvv, config, owner, alice, treasury, genesis_checkpoint, at, t0
):
    controller.setTreasury(alice, sender=owner)
    before_alice, before_treasury = vvv.balanceOf(alice), vvv.balanceOf(treasury)
    at(t0)
    staking.releaseTreasury(sender=owner)
    total, stakers = integrate(
        [(genesis_checkpoint, t0, config.annual_rate, config.stale_staker_bps)]
    )
    assert vvv.balanceOf(alice) == before_alice + total - stakers
    assert vvv.balanceOf(treasury) == before_treasury


def test_releaseTreasury__nothing_to_release__reverts(staking, owner, at, t0):
    at(t0)
    staking.releaseTreasury(sender=owner)
    minted = staking.treasuryMinted()
    at(t0)  # same second: nothing new
    with ape.reverts("sVVV: nothing to release"):
        staking.releaseTreasury(sender=owner)
    assert staking.treasuryMinted() == minted


# ------------------------------------------------------------------ Pro


def test_isPro__threshold_is_100_vvv(staking, funded, alice, bob):
    assert staking.isPro(alice) is False
    staking.stake(alice, 100 * VVV - 1, sender=alice)
    assert staking.isPro(alice) is False
    staking.stake(alice, 1, sender=alice)
    assert staking.isPro(alice) is True
    staking.stake(bob, 100 * VVV + 1, sender=bob)
    assert staking.isPro(bob) is True


def test_isPro__lost_when_unstaking_below(staking, funded, alice):
    staking.stake(alice, 100 * VVV, sender=alice)
    assert staking.isPro(alice) is True
    staking.initiateUnstake(1, sender=alice)
    assert staking.isPro(alice) is False


def test_setProThreshold__changes_threshold(staking, funded, owner, alice):
    staking.stake(alice, 50 * VVV, sender=alice)
    tx = staking.setProThreshold(50 * VVV, sender=owner)
    assert contract_events(tx, staking) == [("ProThresholdChanged", {"threshold": 50 * VVV})]
    assert staking.isPro(alice) is True
    staking.setProThreshold(0, sender=owner)  # zero disables Pro-by-stake
    assert staking.isPro(alice) is False


# ------------------------------------------------------------------ non-transferable


def test_transfer__non_transferable__reverts(staking, funded, alice, bob):
    staking.stake(alice, 10 * VVV, sender=alice)
    with ape.reverts("sVVV: non-transferable"):
        staking.transfer(bob, VVV, sender=alice)
    assert staking.balanceOf(alice) == 10 * VVV
    assert staking.balanceOf(bob) == 0


def test_transferFrom__non_transferable__reverts(staking, funded, alice, bob):
    staking.stake(alice, 10 * VVV, sender=alice)
    with ape.reverts("sVVV: non-transferable"):
        staking.transferFrom(alice, bob, VVV, sender=bob)
    with ape.reverts("sVVV: non-transferable"):
        staking.transferFrom(alice, bob, VVV, sender=alice)
    assert staking.balanceOf(alice) == 10 * VVV
    assert staking.balanceOf(bob) == 0


def test_approve__non_transferable__reverts(staking, alice, bob):
    with ape.reverts("sVVV: non-transferable"):
        staking.approve(bob, VVV, sender=alice)
    assert staking.allowance(alice, bob) == 0


# ------------------------------------------------------------------ ownership


def test_transfer_ownership__two_step(staking, owner, alice):
    staking.transfer_ownership(alice, sender=owner)
    assert staking.owner() == owner.address
    assert staking.pending_owner() == alice.address
    staking.accept_ownership(sender=alice)
    assert staking.owner() == alice.address
    with ape.reverts("ownable: caller is not the owner"):
        staking.setProThreshold(1, sender=owner)
    staking.setProThreshold(1, sender=alice)
    assert staking.proThreshold() == 1


# ------------------------------------------------------------------ gas: O(1) per action


def test_gas__stake_and_claim_independent_of_staker_count(staking, funded, alice, bob, at, t0):
    """The accumulator never loops over stakers: the same action by the same account
    costs exactly the same gas with 1 and with 20 other stakers."""
    at(t0)
    staking.stake(bob, 10 * VVV, sender=bob)  # 1 prior staker
    # Warm-up so that every slot alice's actions touch is already non-zero.
    at(t0 + 10)
    staking.stake(alice, 10 * VVV, sender=alice)
    at(t0 + 20)
    staking.stake(alice, 10 * VVV, sender=alice)
    at(t0 + 30)
    staking.claim(sender=alice)

    def measure(t):
        at(t)
        stake_gas = staking.stake(alice, 10 * VVV, sender=alice).gas_used
        at(t + 100)
        claim_gas = staking.claim(sender=alice).gas_used
        return stake_gas, claim_gas

    with_one = measure(t0 + 100)
    for i in range(19):  # 19 more stakers, created cheaply from bob's account
        at(t0 + 300 + i)
        staking.stake(f"0x{0xA11CE00 + i:040x}", VVV + i, sender=bob)
    assert staking.totalStaked() == 10 * VVV + 30 * VVV + 19 * VVV + sum(range(19))
    with_twenty = measure(t0 + 400)
    assert with_one == with_twenty
