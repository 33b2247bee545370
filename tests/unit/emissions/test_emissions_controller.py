"""EmissionsController: rate, schedule, split curve, oracle, stale fallback, ownership.

Every expected emission is hand-computed with integer math (`integrate` in conftest):
per-second rate = annual // 31_536_000, stakers' per-second = that * bps // 10_000.
Over 500 lines on purpose: one contract's unit tests, sharing the integration helpers above.
"""

from __future__ import annotations

import ape
import pytest

from tests.support.constants import BPS, MAX_SCHEDULE, VVV, ZERO
from tests.support.emissions import curve_at, integrate
from tests.support.events import contract_events


def _curve(controller) -> list[tuple[int, int]]:
    return [(p.utilizationBps, p.stakerBps) for p in controller.splitCurve()]


def _schedule(controller) -> list[tuple[int, int]]:
    return [(e.start, e.annualRate) for e in controller.scheduledRates()]


def _points(pairs):
    return [{"utilizationBps": u, "stakerBps": s} for u, s in pairs]


def _stale_setup(config, genesis_checkpoint):
    """(genesis checkpoint, annual rate, stale staker share, max report age) as deployed."""
    return genesis_checkpoint, config.annual_rate, config.stale_staker_bps, config.max_report_age


def _assert_emitted(controller, segments):
    total, staker = integrate(segments)
    assert controller.emitted() == total
    assert controller.stakerEmitted() == staker
    assert controller.treasuryEmitted() == total - staker


# ------------------------------------------------------------------ initial state


def test_init__state_from_config(controller, staking, config, owner, treasury, oracle):
    assert controller.MAX_ANNUAL_EMISSION() == config.max_annual == 14_000_000 * VVV
    assert controller.annualRate() == config.annual_rate == 14_000_000 * VVV
    assert controller.currentAnnualRate() == config.annual_rate
    assert _curve(controller) == config.split_curve == [(0, 8000), (5000, 2000), (10000, 8000)]
    assert controller.maxReportAge() == config.max_report_age == 172_800
    assert controller.staleStakerBps() == config.stale_staker_bps == 8000
    assert controller.treasury() == treasury.address
    assert controller.oracle() == oracle.address
    assert controller.owner() == owner.address
    assert controller.pending_owner() == ZERO
    assert controller.staking() == staking.address
    assert _schedule(controller) == []
    assert controller.utilizationBps() == 0
    assert controller.lastReport() == 0
    assert controller.reportedStakerBps() == 8000  # the curve at 0% utilization
    assert controller.SECONDS_PER_YEAR() == 31_536_000


def test_init__no_report_is_stale(controller, config):
    assert controller.isReportStale() is True
    assert controller.currentStakerBps() == config.stale_staker_bps


def test_init__last_checkpoint_is_deploy_time(controller, genesis_checkpoint):
    assert controller.lastCheckpoint() == genesis_checkpoint


def test_emitted__streams_from_deploy(controller, config, genesis_checkpoint, mine_at, t0):
    mine_at(t0)
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    _assert_emitted(controller, [(L0, t0, a, stale)])
    # 14M / year, to the wei per second.
    assert controller.emitted() == (t0 - genesis_checkpoint) * 443_937_087_772_704_211


# ------------------------------------------------------------------ setAnnualRate


def test_setAnnualRate__checkpoints_and_changes_rate(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    new = 5_000_000 * VVV
    at(t0)
    tx = controller.setAnnualRate(new, sender=owner)
    assert contract_events(tx, controller) == [
        ("AnnualRateChanged", {"previousRate": a, "newRate": new})
    ]
    assert controller.annualRate() == new
    assert controller.lastCheckpoint() == t0
    # What accrued before the change is exactly the old rate's integral.
    _assert_emitted(controller, [(L0, t0, a, stale)])
    mine_at(t0 + 10_000)
    _assert_emitted(controller, [(L0, t0, a, stale), (t0, t0 + 10_000, new, stale)])
    assert controller.currentAnnualRate() == new


def test_setAnnualRate__to_zero_stops_emissions(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    at(t0)
    controller.setAnnualRate(0, sender=owner)
    mine_at(t0 + 99_999)
    _assert_emitted(controller, [(genesis_checkpoint, t0, config.annual_rate, 8000)])


def test_setAnnualRate__at_cap(controller, config, owner):
    controller.setAnnualRate(config.max_annual, sender=owner)
    assert controller.annualRate() == config.max_annual


def test_setAnnualRate__above_cap__reverts(controller, config, owner):
    with ape.reverts("emissions: rate above cap"):
        controller.setAnnualRate(config.max_annual + 1, sender=owner)
    assert controller.annualRate() == config.annual_rate


# ------------------------------------------------------------------ scheduleRate


def test_scheduleRate__inserts_sorted_latest_first(controller, owner, at, t0):
    starts = [t0 + 300, t0 + 100, t0 + 400, t0 + 200]
    for i, start in enumerate(starts):
        at(t0 + i)
        tx = controller.scheduleRate(start, (start - t0) * VVV, sender=owner)
        assert contract_events(tx, controller) == [
            ("RateScheduled", {"start": start, "annualRate": (start - t0) * VVV})
        ]
    assert _schedule(controller) == [
        (t0 + 400, 400 * VVV),
        (t0 + 300, 300 * VVV),
        (t0 + 200, 200 * VVV),
        (t0 + 100, 100 * VVV),
    ]


def test_scheduleRate__takes_effect_at_its_second_without_a_call(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    new = 2_500_000 * VVV
    start = t0 + 1_000
    at(t0)
    controller.scheduleRate(start, new, sender=owner)

    mine_at(start - 1)
    assert controller.currentAnnualRate() == a
    _assert_emitted(controller, [(L0, start - 1, a, stale)])

    mine_at(start)
    assert controller.currentAnnualRate() == new
    _assert_emitted(controller, [(L0, start, a, stale)])

    mine_at(start + 1)
    _assert_emitted(controller, [(L0, start, a, stale), (start, start + 1, new, stale)])

    mine_at(start + 86_400)
    _assert_emitted(controller, [(L0, start, a, stale), (start, start + 86_400, new, stale)])
    # 2.5M / year is 79,274,479,959,411,466 wei/s (PROTOCOL.md).
    assert (
        controller.emitted() == (start - L0) * (a // 31_536_000) + 86_400 * 79_274_479_959_411_466
    )
    # Nobody called: the entry is still stored, the base rate unchanged.
    assert _schedule(controller) == [(start, new)]
    assert controller.annualRate() == a


def test_scheduleRate__several_changes_pass_without_a_call(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    s1, r1 = t0 + 100, 10_000_000 * VVV
    s2, r2 = t0 + 5_000, 3_000_000 * VVV
    s3, r3 = t0 + 7_777, 0
    at(t0)
    controller.scheduleRate(s2, r2, sender=owner)
    at(t0 + 1)
    controller.scheduleRate(s1, r1, sender=owner)
    at(t0 + 2)
    controller.scheduleRate(s3, r3, sender=owner)
    end = t0 + 20_000
    mine_at(end)
    _assert_emitted(
        controller,
        [(L0, s1, a, stale), (s1, s2, r1, stale), (s2, s3, r2, stale), (s3, end, r3, stale)],
    )
    assert controller.currentAnnualRate() == r3


def test_scheduleRate__checkpoint_folds_started_entries(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    s1, r1 = t0 + 100, 6_000_000 * VVV
    s2, r2 = t0 + 50_000, 5_000_000 * VVV
    at(t0)
    controller.scheduleRate(s1, r1, sender=owner)
    at(t0 + 1)
    controller.scheduleRate(s2, r2, sender=owner)
    # Any checkpoint after s1 folds it into the base rate and keeps s2 pending.
    at(t0 + 1_000)
    controller.setStaleFallback(config.max_report_age, stale, sender=owner)
    assert controller.annualRate() == r1
    assert _schedule(controller) == [(s2, r2)]
    _assert_emitted(controller, [(L0, s1, a, stale), (s1, t0 + 1_000, r1, stale)])
    mine_at(s2 + 10)
    _assert_emitted(controller, [(L0, s1, a, stale), (s1, s2, r1, stale), (s2, s2 + 10, r2, stale)])


def test_scheduleRate__then_setAnnualRate_keeps_the_schedule(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    s1, r1 = t0 + 1_000, 4_000_000 * VVV
    at(t0)
    controller.scheduleRate(s1, r1, sender=owner)
    at(t0 + 10)
    controller.setAnnualRate(7_000_000 * VVV, sender=owner)
    mine_at(s1 + 10)
    _assert_emitted(
        controller,
        [(L0, t0 + 10, a, stale), (t0 + 10, s1, 7_000_000 * VVV, stale), (s1, s1 + 10, r1, stale)],
    )


def test_scheduleRate__past_start__reverts(controller, owner, at, t0):
    at(t0)
    with ape.reverts("emissions: start not in future"):
        controller.scheduleRate(t0 - 1, VVV, sender=owner)
    assert _schedule(controller) == []


def test_scheduleRate__start_now__reverts(controller, owner, at, t0):
    at(t0)
    with ape.reverts("emissions: start not in future"):
        controller.scheduleRate(t0, VVV, sender=owner)
    assert _schedule(controller) == []


def test_scheduleRate__start_too_far__reverts(controller, owner):
    with ape.reverts("emissions: start too far"):
        controller.scheduleRate(2**64 - 1, VVV, sender=owner)
    assert _schedule(controller) == []


def test_scheduleRate__above_cap__reverts(controller, config, owner, t0):
    with ape.reverts("emissions: rate above cap"):
        controller.scheduleRate(t0 + 1_000, config.max_annual + 1, sender=owner)
    assert _schedule(controller) == []


def test_scheduleRate__duplicate_start__reverts(controller, owner, t0):
    controller.scheduleRate(t0 + 1_000, VVV, sender=owner)
    with ape.reverts("emissions: start already scheduled"):
        controller.scheduleRate(t0 + 1_000, 2 * VVV, sender=owner)
    assert _schedule(controller) == [(t0 + 1_000, VVV)]


def test_scheduleRate__full_schedule__reverts(controller, owner, t0):
    for i in range(MAX_SCHEDULE):
        controller.scheduleRate(t0 + 1_000 * (i + 1), i * VVV, sender=owner)
    assert len(_schedule(controller)) == MAX_SCHEDULE
    with ape.reverts("emissions: schedule full"):
        controller.scheduleRate(t0 + 1_000_000, VVV, sender=owner)
    assert len(_schedule(controller)) == MAX_SCHEDULE
    assert _schedule(controller)[0] == (t0 + 16_000, 15 * VVV)


def test_scheduleRate__full_schedule_frees_room_once_an_entry_starts(controller, owner, at, t0):
    for i in range(MAX_SCHEDULE):
        at(t0 + i)
        controller.scheduleRate(t0 + 1_000 * (i + 1), i * VVV, sender=owner)
    at(t0 + 1_000)  # the first entry takes effect in this very block: 15 still pending
    controller.scheduleRate(t0 + 100_000, 99 * VVV, sender=owner)
    assert len(_schedule(controller)) == MAX_SCHEDULE
    assert _schedule(controller)[0] == (t0 + 100_000, 99 * VVV)
    assert _schedule(controller)[-1] == (t0 + 2_000, VVV)
    assert controller.annualRate() == 0  # the folded entry's rate


def test_scheduleRate__full_schedule_and_stale_break_integrate(
    controller, config, owner, oracle, genesis_checkpoint, at, mine_at, t0
):
    """16 scheduled changes and a staleness boundary inside one view: 18 segments."""
    L0, a, stale, age = _stale_setup(config, genesis_checkpoint)
    at(t0)
    controller.reportUtilization(5000, sender=oracle)  # 2000 to stakers until t0 + age
    starts = [t0 + 20_000 * (i + 1) for i in range(MAX_SCHEDULE)]
    rates = [(i + 1) * 500_000 * VVV + 12_345 for i in range(MAX_SCHEDULE)]
    for i, (start, rate) in enumerate(zip(starts, rates, strict=True)):
        at(t0 + 1 + i)
        controller.scheduleRate(start, rate, sender=owner)
    last_call = t0 + MAX_SCHEDULE
    end = starts[-1] + 1_000
    mine_at(end)
    stale_at = t0 + age
    assert starts[7] < stale_at < starts[8]
    segments = [(L0, t0, a, stale), (t0, starts[0], a, 2000)]
    bounds = [*starts, end]
    for i in range(MAX_SCHEDULE):
        lo, hi = bounds[i], bounds[i + 1]
        if lo < stale_at < hi:
            segments += [(lo, stale_at, rates[i], 2000), (stale_at, hi, rates[i], stale)]
        else:
            segments.append((lo, hi, rates[i], 2000 if hi <= stale_at else stale))
    assert last_call < starts[0]
    _assert_emitted(controller, segments)


# ------------------------------------------------------------------ cancelScheduledRate


def test_cancelScheduledRate__removes_entry(
    controller, config, owner, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    s1, s2 = t0 + 1_000, t0 + 2_000
    at(t0)
    controller.scheduleRate(s1, VVV, sender=owner)
    at(t0 + 1)
    controller.scheduleRate(s2, 2 * VVV, sender=owner)
    at(t0 + 2)
    tx = controller.cancelScheduledRate(s1, sender=owner)
    assert contract_events(tx, controller) == [("ScheduledRateCancelled", {"start": s1})]
    assert _schedule(controller) == [(s2, 2 * VVV)]
    mine_at(s2 + 5)
    _assert_emitted(controller, [(L0, s2, a, stale), (s2, s2 + 5, 2 * VVV, stale)])


def test_cancelScheduledRate__not_scheduled__reverts(controller, owner, t0):
    controller.scheduleRate(t0 + 1_000, VVV, sender=owner)
    with ape.reverts("emissions: not scheduled"):
        controller.cancelScheduledRate(t0 + 1_001, sender=owner)
    assert _schedule(controller) == [(t0 + 1_000, VVV)]


def test_cancelScheduledRate__already_started__reverts(controller, owner, at, mine_at, t0):
    at(t0)
    controller.scheduleRate(t0 + 100, 3 * VVV, sender=owner)
    at(t0 + 100)
    with ape.reverts("emissions: not scheduled"):
        controller.cancelScheduledRate(t0 + 100, sender=owner)
    mine_at(t0 + 200)
    assert controller.currentAnnualRate() == 3 * VVV


# ------------------------------------------------------------------ setSplitCurve


def test_setSplitCurve__replaces_curve_and_recomputes_share(
    controller, config, owner, oracle, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    at(t0)
    controller.reportUtilization(5000, sender=oracle)
    assert controller.reportedStakerBps() == 2000
    flat = [(0, 10_000), (10_000, 10_000)]
    at(t0 + 600)
    tx = controller.setSplitCurve(_points(flat), sender=owner)
    assert [name for name, _ in contract_events(tx, controller)] == ["SplitCurveChanged"]
    assert _curve(controller) == flat
    assert controller.reportedStakerBps() == 10_000
    assert controller.currentStakerBps() == 10_000
    mine_at(t0 + 1_000)
    _assert_emitted(
        controller, [(L0, t0, a, stale), (t0, t0 + 600, a, 2000), (t0 + 600, t0 + 1_000, a, BPS)]
    )


def test_setSplitCurve__eight_points(controller, owner, oracle):
    points = [
        (0, 0),
        (1000, 10_000),
        (2000, 1),
        (3000, 9_999),
        (4000, 5),
        (6000, 7),
        (9000, 8),
        (10_000, 0),
    ]
    controller.setSplitCurve(_points(points), sender=owner)
    assert _curve(controller) == points
    for u in (0, 500, 1000, 1500, 2999, 5000, 7500, 9999, 10_000):
        assert controller.stakerBpsAt(u) == curve_at(points, u)


@pytest.mark.parametrize(
    ("points", "reason"),
    [
        ([], "emissions: curve needs 2 points"),
        ([(0, 8000)], "emissions: curve needs 2 points"),
        ([(1, 8000), (10_000, 8000)], "emissions: curve must start at 0"),
        ([(0, 8000), (9_999, 8000)], "emissions: curve must end at 100%"),
        (
            [(0, 8000), (5000, 2000), (5000, 3000), (10_000, 8000)],
            "emissions: curve not increasing",
        ),
        (
            [(0, 8000), (6000, 2000), (5000, 3000), (10_000, 8000)],
            "emissions: curve not increasing",
        ),
        ([(0, 10_001), (10_000, 8000)], "emissions: share above 100%"),
        ([(0, 8000), (5000, 10_001), (10_000, 8000)], "emissions: share above 100%"),
        ([(0, 8000), (10_000, 10_001)], "emissions: share above 100%"),
    ],
    ids=[
        "empty",
        "one_point",
        "not_from_0",
        "not_to_10000",
        "equal_utilization",
        "decreasing_utilization",
        "share_above_bps_first",
        "share_above_bps_middle",
        "share_above_bps_last",
    ],
)
def test_setSplitCurve__invalid__reverts(controller, config, owner, points, reason):
    with ape.reverts(reason):
        controller.setSplitCurve(_points(points), sender=owner)
    assert _curve(controller) == config.split_curve


# ------------------------------------------------------------------ reportUtilization


@pytest.mark.parametrize(
    ("utilization", "staker_bps"),
    [(0, 8000), (2500, 5000), (5000, 2000), (7500, 5000), (10_000, 8000)],
)
def test_reportUtilization__follows_v_curve(controller, oracle, utilization, staker_bps, at, t0):
    at(t0)
    tx = controller.reportUtilization(utilization, sender=oracle)
    assert contract_events(tx, controller) == [
        ("UtilizationReported", {"utilizationBps": utilization, "stakerBps": staker_bps})
    ]
    assert controller.utilizationBps() == utilization
    assert controller.lastReport() == t0
    assert controller.reportedStakerBps() == staker_bps
    assert controller.currentStakerBps() == staker_bps
    assert controller.isReportStale() is False
    assert controller.stakerBpsAt(utilization) == staker_bps


@pytest.mark.parametrize("utilization", [1, 1234, 4999, 5001, 6667, 9999])
def test_reportUtilization__interpolates_rounding_down(controller, config, oracle, utilization):
    controller.reportUtilization(utilization, sender=oracle)
    assert controller.reportedStakerBps() == curve_at(config.split_curve, utilization)
    assert controller.currentStakerBps() == curve_at(config.split_curve, utilization)


def test_reportUtilization__checkpoints_the_split(
    controller, config, oracle, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale = genesis_checkpoint, config.annual_rate, config.stale_staker_bps
    at(t0)
    controller.reportUtilization(2500, sender=oracle)
    at(t0 + 3_000)
    controller.reportUtilization(5000, sender=oracle)
    mine_at(t0 + 3_500)
    _assert_emitted(
        controller,
        [(L0, t0, a, stale), (t0, t0 + 3_000, a, 5000), (t0 + 3_000, t0 + 3_500, a, 2000)],
    )


def test_reportUtilization__not_oracle__reverts(controller, owner, attacker):
    for caller in (owner, attacker):
        with ape.reverts("emissions: not oracle"):
            controller.reportUtilization(5000, sender=caller)
    assert controller.lastReport() == 0
    assert controller.utilizationBps() == 0


def test_reportUtilization__above_100_percent__reverts(controller, oracle):
    with ape.reverts("emissions: utilization above 100%"):
        controller.reportUtilization(10_001, sender=oracle)
    assert controller.lastReport() == 0


def test_setOracle__moves_the_role(controller, owner, oracle, alice):
    tx = controller.setOracle(alice, sender=owner)
    assert contract_events(tx, controller) == [("OracleChanged", {"oracle": alice.address})]
    controller.reportUtilization(2500, sender=alice)
    assert controller.utilizationBps() == 2500
    with ape.reverts("emissions: not oracle"):
        controller.reportUtilization(5000, sender=oracle)
    assert controller.utilizationBps() == 2500


def test_reportUtilization__oracle_set_to_zero__reverts(controller, owner, oracle):
    controller.setOracle(ZERO, sender=owner)
    with ape.reverts("emissions: not oracle"):
        controller.reportUtilization(5000, sender=oracle)


# ------------------------------------------------------------------ stale fallback


def test_stale__fallback_after_max_report_age(
    controller, config, owner, oracle, genesis_checkpoint, at, mine_at, t0
):
    L0, a, age = genesis_checkpoint, config.annual_rate, config.max_report_age
    # A fallback share distinct from every curve value used here.
    at(t0)
    controller.setStaleFallback(age, 6_500, sender=owner)
    at(t0 + 100)
    controller.reportUtilization(5000, sender=oracle)
    report = t0 + 100

    mine_at(report + age - 1)
    assert controller.isReportStale() is False
    assert controller.currentStakerBps() == 2000

    mine_at(report + age)
    assert controller.isReportStale() is True
    assert controller.currentStakerBps() == 6_500

    end = report + age + 12_345
    mine_at(end)
    _assert_emitted(
        controller,
        [
            (L0, t0, a, 8000),
            (t0, report, a, 6_500),  # no report yet: the (new) fallback
            (report, report + age, a, 2000),
            (report + age, end, a, 6_500),
        ],
    )


def test_stale__boundary_exact_to_the_second(
    controller, config, oracle, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale, age = _stale_setup(config, genesis_checkpoint)
    at(t0)
    controller.reportUtilization(5000, sender=oracle)
    for t in (t0 + age - 1, t0 + age, t0 + age + 1):
        mine_at(t)
        if t <= t0 + age:
            segments = [(L0, t0, a, stale), (t0, t, a, 2000)]
        else:
            segments = [(L0, t0, a, stale), (t0, t0 + age, a, 2000), (t0 + age, t, a, stale)]
        _assert_emitted(controller, segments)


def test_stale__new_report_restores_curve(
    controller, config, oracle, genesis_checkpoint, at, mine_at, t0
):
    L0, a, stale, age = _stale_setup(config, genesis_checkpoint)
    at(t0)
    controller.reportUtilization(5000, sender=oracle)
    second = t0 + age + 500
    at(second)
    controller.reportUtilization(2500, sender=oracle)
    assert controller.isReportStale() is False
    assert controller.currentStakerBps() == 5000
    mine_at(second + 77)
    _assert_emitted(
        controller,
        [
            (L0, t0, a, stale),
            (t0, t0 + age, a, 2000),
            (t0 + age, second, a, stale),
            (second, second + 77, a, 5000),
        ],
    )


@pytest.mark.parametrize(
    ("age", "bps"),
    [(3_600, 0), (30 * 86_400, 10_000), (86_400, 5_000)],
    ids=["min_age", "max_age", "middle"],
)
def test_setStaleFallback__within_bounds(controller, owner, age, bps):
    tx = controller.setStaleFallback(age, bps, sender=owner)
    assert contract_events(tx, controller) == [
        ("StaleFallbackChanged", {"maxReportAge": age, "staleStakerBps": bps})
    ]
    assert controller.maxReportAge() == age
    assert controller.staleStakerBps() == bps
    assert controller.currentStakerBps() == bps  # no report yet: on the fallback


@pytest.mark.parametrize(
    ("age", "bps", "reason"),
    [
        (3_599, 8000, "emissions: bad report age"),
        (0, 8000, "emissions: bad report age"),
        (30 * 86_400 + 1, 8000, "emissions: bad report age"),
        (3_600, 10_001, "emissions: share above 100%"),
    ],
    ids=["age_below_min", "age_zero", "age_above_max", "share_above_bps"],
)
def test_setStaleFallback__out_of_bounds__reverts(controller, config, owner, age, bps, reason):
    with ape.reverts(reason):
        controller.setStaleFallback(age, bps, sender=owner)
    assert controller.maxReportAge() == config.max_report_age
    assert controller.staleStakerBps() == config.stale_staker_bps


# ------------------------------------------------------------------ wiring and treasury


def test_setStaking__only_once__reverts(controller, staking, owner, alice):
    with ape.reverts("emissions: staking already set"):
        controller.setStaking(alice, sender=owner)
    assert controller.staking() == staking.address


def test_setStaking__fresh_controller_wires_once(
    vvv, config, controller_deployer, staking_deployer, treasury, oracle, attacker
):
    gov = controller_deployer
    fresh = ape.project.EmissionsController.deploy(
        config.max_annual,
        config.annual_rate,
        _points(config.split_curve),
        config.max_report_age,
        config.stale_staker_bps,
        treasury,
        oracle,
        sender=gov,
    )
    assert fresh.staking() == ZERO
    with ape.reverts("emissions: zero address"):
        fresh.setStaking(ZERO, sender=gov)
    staking = ape.project.StakedVVV.deploy(
        vvv.address, fresh.address, 604_800, 2_000, 100 * VVV, sender=staking_deployer
    )
    with ape.reverts("ownable: caller is not the owner"):
        fresh.setStaking(staking, sender=attacker)
    tx = fresh.setStaking(staking, sender=gov)
    assert contract_events(tx, fresh) == [("StakingSet", {"staking": staking.address})]
    assert fresh.staking() == staking.address
    with ape.reverts("emissions: staking already set"):
        fresh.setStaking(attacker, sender=gov)
    assert fresh.staking() == staking.address


def test_setTreasury__changes_receiver(controller, owner, alice):
    tx = controller.setTreasury(alice, sender=owner)
    assert contract_events(tx, controller) == [("TreasuryChanged", {"treasury": alice.address})]
    assert controller.treasury() == alice.address


# ------------------------------------------------------------------ ownership


def test_transfer_ownership__two_step(controller, config, owner, alice, bob):
    controller.transfer_ownership(alice, sender=owner)
    assert controller.pending_owner() == alice.address
    assert controller.owner() == owner.address
    # Pending is not owner yet.
    with ape.reverts("ownable: caller is not the owner"):
        controller.setAnnualRate(VVV, sender=alice)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        controller.accept_ownership(sender=bob)
    controller.accept_ownership(sender=alice)
    assert controller.owner() == alice.address
    assert controller.pending_owner() == ZERO
    # The old owner lost every right; the new one has them.
    with ape.reverts("ownable: caller is not the owner"):
        controller.setAnnualRate(VVV, sender=owner)
    with ape.reverts("ownable: caller is not the owner"):
        controller.transfer_ownership(owner, sender=owner)
    controller.setAnnualRate(2 * VVV, sender=alice)
    assert controller.annualRate() == 2 * VVV


def test_transfer_ownership__replaced_before_accept(controller, owner, alice, bob):
    controller.transfer_ownership(alice, sender=owner)
    controller.transfer_ownership(bob, sender=owner)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        controller.accept_ownership(sender=alice)
    controller.accept_ownership(sender=bob)
    assert controller.owner() == bob.address
