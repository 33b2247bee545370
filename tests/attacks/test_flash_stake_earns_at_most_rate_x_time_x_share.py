"""Flash staking around a rate or split change earns at most rate x time x share.

Rewards stream per second: there is no lump sum for a staker who arrives just before a change
to catch, and what accrued before the staker arrived is never shared with it. The changes: a
governance rate increase, a scheduled one that takes effect with no one calling, an oracle
report that moves the split to the stakers, and a governance split curve that gives them
everything.
"""

from __future__ import annotations

import pytest

from tests.support.constants import DAY, VVV, YEAR
from venice_ops.rpc import bind, mine, send


def _rate(annual: int, staker_bps: int) -> int:
    return annual // YEAR * staker_bps // 10_000


@pytest.mark.parametrize(
    "change", ["rate_up", "split_to_stakers", "split_curve_to_stakers", "scheduled_rate_up"]
)
def test_flash_stake_around_change__earns_at_most_rate_time_share(
    change, chain, vvv, controller, staking, owner, oracle, alice, attacker, fund
):
    fund(alice, 1_000_000 * VVV)
    fund(attacker, 50_000_000 * VVV)
    c, s = bind(controller).functions, bind(staking).functions
    o = owner.address
    now = chain.blocks.head.timestamp + 10
    send(c.setAnnualRate(2_000_000 * VVV), o, now)
    send(c.reportUtilization(5_000), oracle.address, now + 1)  # 20% to stakers
    send(s.stake(alice.address, 1_000_000 * VVV), alice.address, now + 2)
    if change == "scheduled_rate_up":
        send(c.scheduleRate(now + 2 + DAY, 14_000_000 * VVV), o, now + 3)
    mine(now + 2 + DAY - 1)
    alice_before = s.pendingRewards(alice.address).call()

    flash = 50_000_000 * VVV
    t_change = now + 2 + DAY
    send(s.stake(attacker.address, flash), attacker.address, t_change - 1)
    if change == "rate_up":
        send(c.setAnnualRate(14_000_000 * VVV), o, t_change)
    elif change == "split_to_stakers":
        send(c.reportUtilization(0), oracle.address, t_change)  # 80% to stakers
    elif change == "split_curve_to_stakers":
        send(c.setSplitCurve([(0, 10_000), (10_000, 10_000)]), o, t_change)  # 100% to stakers
    else:
        mine(t_change)  # the scheduled change takes effect with no one calling
    send(s.initiateUnstake(flash), attacker.address, t_change + 1)

    earned = s.pendingRewards(attacker.address).call()
    total = flash + 1_000_000 * VVV
    fastest = max(
        _rate(2_000_000 * VVV, 2_000),
        _rate(14_000_000 * VVV, 2_000),
        _rate(2_000_000 * VVV, 8_000),
        _rate(2_000_000 * VVV, 10_000),
    )
    # Two seconds in the pool, at no more than the fastest rate in force, at its share.
    bound = 2 * fastest * flash // total
    assert 0 < earned <= bound
    # Nothing that accrued before the attacker arrived was shared with it.
    assert s.pendingRewards(alice.address).call() >= alice_before
    # Leaving at once gives back exactly the stake, after the cooldown.
    mine(t_change + 1 + 7 * DAY)
    before = vvv.balanceOf(attacker)
    send(s.finalizeUnstake(), attacker.address, t_change + 2 + 7 * DAY)
    assert vvv.balanceOf(attacker) - before == flash
