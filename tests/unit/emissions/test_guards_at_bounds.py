"""EmissionsController's guards at their edges (docs/testing.md): report staleness to
the second (in the controller's views and in what stakers accrue without any call), the
stale-fallback, utilization, curve, rate-cap and schedule bounds, each exactly and one past.

With no report the split is the stale fallback (8000 bps); a report of 50% utilization puts
it at 2000 bps, so each side of the staleness boundary shows which split is in force.
"""

from __future__ import annotations

import ape
import pytest
from ape import project

from tests.support.constants import BPS, PRECISION, VVV
from tests.support.emissions import per_second

NO_BREAK = 2**40 - 1


def points(pairs):
    return [{"utilizationBps": u, "stakerBps": s} for u, s in pairs]


def split_of(controller) -> tuple:
    return (
        tuple((p.utilizationBps, p.stakerBps) for p in controller.splitCurve()),
        controller.maxReportAge(),
        controller.staleStakerBps(),
    )


# ------------------------------------------------------------------ report staleness


def test_stale__reported_split_to_the_last_second_fallback_from_the_age_on(
    controller, staking, config, oracle, at, mine_at, t0
):
    age, annual = controller.maxReportAge(), controller.annualRate()
    at(t0)
    controller.reportUtilization(5_000, sender=oracle)
    reported, stale = controller.reportedStakerBps(), controller.staleStakerBps()
    assert (reported, stale) == (2_000, 8_000)
    mine_at(t0 + age - 1)
    assert controller.isReportStale() is False
    assert controller.currentStakerBps() == reported
    assert staking.rewardRate() == per_second(annual) * reported // BPS
    mine_at(t0 + age)
    assert controller.isReportStale() is True
    assert controller.currentStakerBps() == stale
    assert staking.rewardRate() == per_second(annual) * stale // BPS


def test_stale__stakers_accrue_the_reported_split_to_the_second_then_the_fallback(
    controller, staking, fund, oracle, alice, bob, at, mine_at, t0
):
    """Nobody calls between the report and long after it goes stale: the staking contract's
    cached rate must expire exactly at lastReport + maxReportAge. alice and bob (a bystander
    staked beside her) each accrue exactly the two segments."""
    age, rate = controller.maxReportAge(), per_second(controller.annualRate())
    for account in (alice, bob):
        fund(account, 1_000 * VVV)
    at(t0)
    staking.stake(alice, 300 * VVV, sender=alice)
    at(t0 + 1)
    staking.stake(bob, 100 * VVV, sender=bob)
    at(t0 + 2)
    controller.reportUtilization(5_000, sender=oracle)
    paid = staking.userRewardPerTokenPaid(alice)
    rpt = staking.rewardPerTokenStored()
    assert staking.lastAccrual() == t0 + 2
    stale_at = t0 + 2 + age
    end = stale_at + 1_000
    mine_at(end)
    total = 400 * VVV
    rpt += (stale_at - (t0 + 2)) * (rate * 2_000 // BPS) * PRECISION // total
    rpt += (end - stale_at) * (rate * 8_000 // BPS) * PRECISION // total
    assert (
        staking.pendingRewards(alice)
        == staking.rewards(alice) + 300 * VVV * (rpt - paid) // PRECISION
    )
    bob_paid = staking.userRewardPerTokenPaid(bob)
    assert (
        staking.pendingRewards(bob)
        == staking.rewards(bob) + 100 * VVV * (rpt - bob_paid) // PRECISION
    )


@pytest.mark.parametrize(
    "age, bps, reason",
    [
        (3_600, 8_000, None),
        (3_599, 8_000, "emissions: bad report age"),
        (30 * 86_400, 8_000, None),
        (30 * 86_400 + 1, 8_000, "emissions: bad report age"),
        (172_800, 10_000, None),
        (172_800, 10_001, "emissions: share above 100%"),
    ],
)
def test_set_stale_fallback__each_bound_and_one_past(age, bps, reason, controller, owner):
    kept = split_of(controller)
    if reason is None:
        controller.setStaleFallback(age, bps, sender=owner)
        assert (controller.maxReportAge(), controller.staleStakerBps()) == (age, bps)
    else:
        with ape.reverts(reason):
            controller.setStaleFallback(age, bps, sender=owner)
        assert split_of(controller) == kept


def test_report__full_utilization_accepted_one_bps_more_refused(controller, oracle):
    with ape.reverts("emissions: utilization above 100%"):
        controller.reportUtilization(BPS + 1, sender=oracle)
    with ape.reverts("emissions: utilization above 100%"):
        controller.stakerBpsAt(BPS + 1)
    assert controller.lastReport() == 0
    controller.reportUtilization(BPS, sender=oracle)
    assert controller.utilizationBps() == BPS
    assert controller.reportedStakerBps() == controller.stakerBpsAt(BPS) == 8_000


# ------------------------------------------------------------------ curve bounds


@pytest.mark.parametrize(
    "pairs, reason",
    [
        ([(0, 8_000), (10_000, 10_000)], None),
        ([(0, 8_000), (10_000, 10_001)], "emissions: share above 100%"),
        ([(0, 10_001), (10_000, 8_000)], "emissions: share above 100%"),
        ([(0, 8_000), (1, 0), (10_000, 8_000)], None),
        ([(0, 8_000), (0, 0), (10_000, 8_000)], "emissions: curve not increasing"),
        ([(0, 8_000), (5_000, 0), (5_000, 1), (10_000, 8_000)], "emissions: curve not increasing"),
        ([(0, 8_000), (9_999, 0), (10_000, 8_000)], None),
        ([(0, 8_000), (9_999, 0)], "emissions: curve must end at 100%"),
        ([(1, 8_000), (10_000, 0)], "emissions: curve must start at 0"),
        ([(0, 5_000)], "emissions: curve needs 2 points"),
        ([(i * 10_000 // 7, 1_000 * i) for i in range(8)], None),  # eight points: the most
    ],
)
def test_set_split_curve__each_bound_and_one_past(pairs, reason, controller, owner):
    kept = split_of(controller)
    if reason is None:
        controller.setSplitCurve(points(pairs), sender=owner)
        assert split_of(controller)[0] == tuple(pairs)
    else:
        with ape.reverts(reason):
            controller.setSplitCurve(points(pairs), sender=owner)
        assert split_of(controller) == kept


# ------------------------------------------------------------------ rate cap and schedule


def test_rate__exactly_the_cap_accepted_one_wei_more_refused(controller, owner, t0):
    cap = controller.MAX_ANNUAL_EMISSION()
    with ape.reverts("emissions: rate above cap"):
        controller.setAnnualRate(cap + 1, sender=owner)
    with ape.reverts("emissions: rate above cap"):
        controller.scheduleRate(t0 + 100, cap + 1, sender=owner)
    assert list(controller.scheduledRates()) == []
    controller.setAnnualRate(cap, sender=owner)
    assert controller.annualRate() == cap
    controller.scheduleRate(t0 + 100, cap, sender=owner)
    assert [(e.start, e.annualRate) for e in controller.scheduledRates()] == [(t0 + 100, cap)]


def test_schedule__start_next_second_accepted_this_second_refused(controller, owner, at, t0):
    at(t0)
    with ape.reverts("emissions: start not in future"):
        controller.scheduleRate(t0, VVV, sender=owner)
    at(t0)
    controller.scheduleRate(t0 + 1, VVV, sender=owner)
    assert [(e.start, e.annualRate) for e in controller.scheduledRates()] == [(t0 + 1, VVV)]


def test_schedule__latest_start_accepted_the_no_break_marker_refused(controller, owner):
    with ape.reverts("emissions: start too far"):
        controller.scheduleRate(NO_BREAK, VVV, sender=owner)
    controller.scheduleRate(NO_BREAK - 1, VVV, sender=owner)
    assert [(e.start, e.annualRate) for e in controller.scheduledRates()] == [(NO_BREAK - 1, VVV)]


def test_schedule__sixteen_entries_accepted_a_seventeenth_refused(controller, owner, at, t0):
    """None of the entries has started, so the checkpoint frees no room: only the length
    bound refuses the 17th."""
    at(t0)
    for i in range(16):
        controller.scheduleRate(t0 + 1_000 + i, VVV + i, sender=owner)
    kept = list(controller.scheduledRates())
    assert len(kept) == controller.MAX_SCHEDULE() == 16
    with ape.reverts("emissions: schedule full"):
        controller.scheduleRate(t0 + 2_000, VVV, sender=owner)
    assert list(controller.scheduledRates()) == kept


@pytest.mark.parametrize("offset, reason", [(0, None), (1, "emissions: cap too large")])
def test_deploy__cap_exactly_max_cap_accepted_one_wei_more_refused(
    offset, reason, controller, treasury, oracle, controller_deployer
):
    cap = controller.MAX_CAP() + offset
    args = (cap, 0, points([(0, 8_000), (10_000, 8_000)]), 172_800, 8_000, treasury, oracle)
    if reason is None:
        fresh = project.EmissionsController.deploy(*args, sender=controller_deployer)
        assert fresh.MAX_ANNUAL_EMISSION() == cap
    else:
        with ape.reverts(reason):
            project.EmissionsController.deploy(*args, sender=controller_deployer)
