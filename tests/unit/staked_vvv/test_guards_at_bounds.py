"""StakedVVV's guards at their edges and its packed words (docs/testing.md).

- The unstake cooldown to the second, for the caller and for a bystander cooling on another
  timer; a restarted timer is the only guard once the first request's time has passed.
- The unlocked-stake bound of `initiateUnstake` and of a DIEM mint, the slippage bounds of
  both mints and the burn bound, each exactly and one wei past.
- Packed words: an account's stake and unclaimed rewards share one slot, a cooldown's amount
  and unlock time another, a lock's sVVV and DIEM another, the totals staked and locked
  another. After each write every other field is exact, and a bystander's words unchanged.

Rewards are hand-computed with the accumulator's integer math (see tests/support/emissions.py):
rpt += seconds * rate * 10**36 // totalStaked; earned = stake * (rpt - paid) // 10**36.
"""

from __future__ import annotations

import ape
import pytest
from ape import project

from tests.support.chain import refused_changing_nothing, refused_until
from tests.support.constants import PRECISION, VVV

MAX_UINT = 2**256 - 1


def words(staking, account) -> tuple:
    """Everything StakedVVV stores for one account."""
    return (
        staking.balanceOf(account),
        staking.rewards(account),
        staking.userRewardPerTokenPaid(account),
        staking.cooldowns(account),
        staking.lockedStakes(account),
    )


# ------------------------------------------------------------------ cooldown


def test_cooldown__finalize_at_the_unlock_second_not_one_before_bystander_untouched(
    staking, vvv, funded, alice, bob, at, t0
):
    cooldown = staking.cooldownDuration()
    staking.stake(alice, 100 * VVV, sender=alice)
    staking.stake(bob, 100 * VVV, sender=bob)
    at(t0)
    staking.initiateUnstake(10 * VVV + 1, sender=alice)
    at(t0 + 100)
    staking.initiateUnstake(20 * VVV, sender=bob)
    bob_words = words(staking, bob)
    assert bob_words[3] == (20 * VVV, t0 + 100 + cooldown)

    at(t0 + cooldown - 1)
    with ape.reverts("sVVV: cooldown active"):
        staking.finalizeUnstake(sender=alice)
    assert staking.cooldowns(alice) == (10 * VVV + 1, t0 + cooldown)

    before = vvv.balanceOf(alice)
    at(t0 + cooldown)
    staking.finalizeUnstake(sender=alice)
    assert vvv.balanceOf(alice) == before + 10 * VVV + 1
    assert staking.cooldowns(alice) == (0, 0)
    assert staking.totalCoolingDown() == 20 * VVV
    # bob, cooling on his own timer, is exactly where he was and still waits to the second.
    assert words(staking, bob) == bob_words
    at(t0 + 100 + cooldown - 1)
    with ape.reverts("sVVV: cooldown active"):
        staking.finalizeUnstake(sender=bob)
    at(t0 + 100 + cooldown)
    staking.finalizeUnstake(sender=bob)
    assert staking.totalCoolingDown() == 0


def test_cooldown__a_second_request_restarts_the_timer_for_the_whole_bucket(
    staking, vvv, funded, alice, at, t0
):
    """Past the first request's unlock time, the restarted timer is the only guard left."""
    cooldown = staking.cooldownDuration()
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + 50)
    staking.initiateUnstake(5 * VVV, sender=alice)
    assert staking.cooldowns(alice) == (15 * VVV, t0 + 50 + cooldown)
    before = vvv.balanceOf(alice)
    # Refused long after the first request's t0 + cooldown.
    refused_until(
        at,
        t0 + 50 + cooldown,
        lambda: staking.finalizeUnstake(sender=alice),
        "sVVV: cooldown active",
    )
    assert vvv.balanceOf(alice) == before + 15 * VVV


def test_cooldown__a_new_request_after_finalizing_starts_an_empty_bucket(
    staking, funded, alice, at, t0
):
    """The unlock time stays in the word after finalizing (its amount is cleared): a new
    request must count only the new amount and its own timer."""
    cooldown = staking.cooldownDuration()
    staking.stake(alice, 100 * VVV, sender=alice)
    at(t0)
    staking.initiateUnstake(10 * VVV, sender=alice)
    at(t0 + cooldown)
    staking.finalizeUnstake(sender=alice)
    at(t0 + cooldown + 5)
    staking.initiateUnstake(3 * VVV, sender=alice)
    assert staking.cooldowns(alice) == (3 * VVV, t0 + 2 * cooldown + 5)
    assert staking.totalCoolingDown() == 3 * VVV


# ------------------------------------------------------------------ unlocked stake bounds


@pytest.fixture
def locked(staking, diem, funded, alice):
    """alice: 100_000 VVV staked, 50 DIEM minted against part of it."""
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.mintExactDiem(50 * VVV, MAX_UINT, sender=alice)
    return staking.lockedStakes(alice)


def test_initiate_unstake__all_the_unlocked_stake_accepted_one_wei_more_refused(
    staking, locked, alice, storage_roots
):
    """One wei past the unlocked stake is still within the stake, so only the lock guard
    refuses it; one wei past the stake is refused for that."""
    staked = staking.balanceOf(alice)
    sVVV_locked = locked[0]
    unlocked = staked - sVVV_locked
    before = storage_roots()
    with ape.reverts("sVVV: stake is locked"):
        staking.initiateUnstake(unlocked + 1, sender=alice)
    with ape.reverts("sVVV: amount exceeds stake"):
        staking.initiateUnstake(staked + 1, sender=alice)
    assert storage_roots() == before
    staking.initiateUnstake(unlocked, sender=alice)
    assert staking.balanceOf(alice) == sVVV_locked
    assert staking.lockedStakes(alice) == locked  # the lock word is untouched
    assert staking.totalLocked() == sVVV_locked
    assert staking.totalStaked() == sVVV_locked


def test_mint_diem__all_the_unlocked_stake_accepted_one_wei_more_refused(
    staking, diem, locked, alice, storage_roots
):
    unlocked = staking.balanceOf(alice) - locked[0]
    refused_changing_nothing(
        storage_roots,
        "sVVV: not enough unlocked stake",
        lambda: staking.mintDiem(unlocked + 1, 0, sender=alice),
    )
    out = staking.getDiemAmountOut(unlocked)
    staking.mintDiem(unlocked, out, sender=alice)
    assert staking.lockedStakes(alice) == (staking.balanceOf(alice), locked[1] + out)
    # Nothing unlocked is left: even a mint that would give DIEM is refused for the lock.
    assert staking.getDiemAmountOut(VVV) > 0
    with ape.reverts("sVVV: not enough unlocked stake"):
        staking.mintDiem(VVV, 0, sender=alice)


def test_mint_slippage__exact_quote_accepted_one_wei_tighter_refused(
    staking, diem, funded, alice, storage_roots
):
    staking.stake(alice, 100_000 * VVV, sender=alice)
    x = 12_345 * VVV + 6
    out = staking.getDiemAmountOut(x)
    before = storage_roots()
    with ape.reverts("sVVV: slippage"):
        staking.mintDiem(x, out + 1, sender=alice)
    d = 7 * VVV + 3
    cost = staking.getSVVVAmountIn(d)
    with ape.reverts("sVVV: slippage"):
        staking.mintExactDiem(d, cost - 1, sender=alice)
    assert storage_roots() == before
    assert staking.mintDiem(x, out, sender=alice).return_value == out
    cost = staking.getSVVVAmountIn(d)  # at the new supply
    assert staking.mintExactDiem(d, cost, sender=alice).return_value == cost
    assert staking.lockedStakes(alice) == (x + cost, out + d)


def test_burn_diem__all_outstanding_accepted_one_wei_more_refused_even_when_held(
    staking, diem, funded, locked, alice, bob, storage_roots
):
    """alice holds more DIEM than she owes (bob sent her some), so her balance would cover a
    burn one wei past her outstanding DIEM: only the outstanding bound refuses it. bob's lock
    is not touched by alice's burn."""
    staking.stake(bob, 100_000 * VVV, sender=bob)
    staking.mintExactDiem(20 * VVV, MAX_UINT, sender=bob)
    diem.transfer(alice, 5 * VVV, sender=bob)
    bob_words = words(staking, bob)
    sVVV_locked, outstanding = locked
    assert diem.balanceOf(alice) > outstanding
    refused_changing_nothing(
        storage_roots,
        "sVVV: burn exceeds outstanding",
        lambda: staking.burnDiem(outstanding + 1, sender=alice),
    )
    assert staking.burnDiem(outstanding, sender=alice).return_value == sVVV_locked
    assert staking.lockedStakes(alice) == (0, 0)
    assert diem.balanceOf(alice) == 5 * VVV
    assert staking.lockedStakes(bob) == bob_words[4]
    assert staking.balanceOf(bob) == bob_words[0]
    assert staking.totalLocked() == bob_words[4][0]


# ------------------------------------------------------------------ packed words


def test_account_word__stake_changes_keep_the_unclaimed_rewards_exact(
    staking, vvv, funded, alice, bob, carol, rate, at, t0
):
    """Stake (bits 0-127) and rewards accrued as of the last update (128-255) share a slot:
    a top-up, an unstake and a lock each rewrite it, and must keep the other half exact. carol
    never acts: her (empty) words stay empty; bob's stay as of his last action."""
    a, b, x, u = 100 * VVV, 300 * VVV, 50 * VVV, 30 * VVV
    at(t0)
    staking.stake(alice, a, sender=alice)
    rpt0 = staking.rewardPerTokenStored()
    at(t0 + 10)
    staking.stake(bob, b, sender=bob)
    bob_words = words(staking, bob)
    carol_words = words(staking, carol)
    rpt1 = rpt0 + 10 * rate * PRECISION // a
    assert staking.rewardPerTokenStored() == rpt1

    at(t0 + 1_000)
    staking.stake(alice, x, sender=alice)  # top-up
    rpt2 = rpt1 + 990 * rate * PRECISION // (a + b)
    r = a * (rpt2 - rpt0) // PRECISION
    assert r > 0
    assert (staking.balanceOf(alice), staking.rewards(alice)) == (a + x, r)

    at(t0 + 2_000)
    staking.initiateUnstake(u, sender=alice)
    rpt3 = rpt2 + 1_000 * rate * PRECISION // (a + b + x)
    r += (a + x) * (rpt3 - rpt2) // PRECISION
    assert (staking.balanceOf(alice), staking.rewards(alice)) == (a + x - u, r)
    assert staking.totalStaked() == a + b + x - u

    at(t0 + 3_000)
    staking.mintExactDiem(VVV, MAX_UINT, sender=alice)  # a lock settles earnings too
    rpt4 = rpt3 + 1_000 * rate * PRECISION // (a + b + x - u)
    r += (a + x - u) * (rpt4 - rpt3) // PRECISION
    assert (staking.balanceOf(alice), staking.rewards(alice)) == (a + x - u, r)

    supply = vvv.totalSupply()
    at(t0 + 3_000 + 1)
    staking.claim(sender=alice)
    assert (staking.balanceOf(alice), staking.rewards(alice)) == (a + x - u, 0)
    assert vvv.totalSupply() > supply + r - 1  # r plus the last second's earnings
    assert words(staking, bob) == bob_words
    assert words(staking, carol) == carol_words


def test_lock_word__each_mint_and_burn_keeps_the_other_half_exact(
    staking, diem, funded, alice, bob
):
    """sVVV locked (bits 0-127) and DIEM outstanding (128-255) share a slot; the totals
    staked and locked share another."""
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.stake(bob, 1_000 * VVV, sender=bob)
    bob_words = words(staking, bob)
    c1 = staking.mintExactDiem(10 * VVV, MAX_UINT, sender=alice).return_value
    assert staking.lockedStakes(alice) == (c1, 10 * VVV)
    c2 = staking.mintExactDiem(3 * VVV + 1, MAX_UINT, sender=alice).return_value
    assert staking.lockedStakes(alice) == (c1 + c2, 13 * VVV + 1)
    assert (staking.totalStaked(), staking.totalLocked()) == (101_000 * VVV, c1 + c2)
    released = staking.burnDiem(4 * VVV, sender=alice).return_value
    assert released == 4 * VVV * (c1 + c2) // (13 * VVV + 1)
    assert staking.lockedStakes(alice) == (c1 + c2 - released, 9 * VVV + 1)
    assert (staking.totalStaked(), staking.totalLocked()) == (101_000 * VVV, c1 + c2 - released)
    assert staking.balanceOf(alice) == 100_000 * VVV
    assert words(staking, bob) == bob_words


# ------------------------------------------------------------------ deploy bounds


@pytest.mark.parametrize(
    "cooldown, bps, reason",
    [
        (365 * 86_400, 2_000, None),
        (365 * 86_400 + 1, 2_000, "sVVV: cooldown too long"),
        (604_800, 10_000, None),
        (604_800, 10_001, "sVVV: bps above 100%"),
    ],
)
def test_deploy__cooldown_and_locked_share_at_the_bound_and_one_past(
    cooldown, bps, reason, vvv, controller, staking_deployer
):
    args = (vvv.address, controller.address, cooldown, bps, 0)
    if reason is None:
        fresh = project.StakedVVV.deploy(*args, sender=staking_deployer)
        assert (fresh.cooldownDuration(), fresh.LOCKED_TREASURY_BPS()) == (cooldown, bps)
    else:
        with ape.reverts(reason):
            project.StakedVVV.deploy(*args, sender=staking_deployer)


def test_accrual_word__a_controller_checkpoint_keeps_the_treasurys_locked_cut(
    chain, staking, controller, funded, owner, alice, at, mine_at, t0
):
    """The accrual time, the cached rate and its horizon, and the treasury's cut of locked
    yield share one word; a rate change checkpoints staking, which rewrites the time and
    drops the cache: the cut must come through exactly as accrued to that second."""
    at(t0)
    staking.stake(alice, 100_000 * VVV, sender=alice)
    staking.mintExactDiem(50 * VVV, MAX_UINT, sender=alice)
    t = t0 + 86_400
    snapshot = chain.snapshot()
    mine_at(t)
    cut, releasable = staking.lockedCutAccrued(), staking.treasuryReleasable()
    assert cut > 0
    chain.restore(snapshot)
    at(t)
    controller.setAnnualRate(controller.annualRate() // 2, sender=owner)
    assert staking.lastAccrual() == t
    assert staking.lockedCutAccrued() == cut
    assert staking.treasuryReleasable() == releasable
