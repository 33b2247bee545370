# pragma version ~=0.4.3
# One file on purpose (about 600 lines): the rate, its schedule, the split curve and the stale
# fallback are one storage layout integrated together on every checkpoint; Vyper modules would
# add gas to each call and spread that layout over files.
"""
@title EmissionsController
@custom:contract-name EmissionsController
@license GNU Affero General Public License v3.0 only
@notice The emissions policy of the suite: how much VVV is emitted per
        second, and how it is split between stakers and the treasury.
        - The rate is an annual amount streamed per second
          (`annual // 31_536_000` wei per second), never above the
          immutable hard cap `MAX_ANNUAL_EMISSION`.
        - Governance may change the rate now or schedule future changes as
          (start timestamp, annual rate) pairs, so a real history can be
          replayed without anyone calling at the right second.
        - An oracle reports network utilization (basis points of capacity);
          the stakers' share follows a governance-set piecewise-linear
          curve of it (default V: 0% -> 80%, 50% -> 20%, 100% -> 80%).
        - Stale report fallback: a report older than `maxReportAge` no
          longer counts. From `lastReport + maxReportAge` on, the split is
          `staleStakerBps` (default 80% stakers, the curve's idle value),
          so an oracle that stops reporting can neither freeze emissions
          nor keep the treasury's take at its peak.
        - Every change first checkpoints the staking contract and this
          contract's own totals, so nothing already accrued moves.
        The staking contract accrues stakers' emissions continuously from
        `accrual`; this contract never sends a lump sum that a flash staker
        could catch. Emissions are minted by the staking contract: stakers'
        rewards on claim, the treasury's share through `releaseTreasury`.
@custom:security Governance (the owner) can move the rate only up to the
                 immutable cap and the split only within 0-100%; the oracle
                 can move the split only along the governance curve.
"""

from interfaces import IEmissionsController
from interfaces import IStakedVVV

implements: IEmissionsController

from snekmate.auth import ownable
from snekmate.auth import ownable_2step

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


# @dev Seconds in the 365-day year the annual rates are quoted in.
SECONDS_PER_YEAR: public(constant(uint256)) = 31_536_000
BPS: public(constant(uint256)) = 10_000
MAX_CURVE_POINTS: public(constant(uint256)) = 8
MAX_SCHEDULE: public(constant(uint256)) = 16
# @dev Bounds on the stale-report window governance may choose.
MIN_REPORT_AGE: public(constant(uint256)) = 3_600
MAX_REPORT_AGE: public(constant(uint256)) = 30 * 86_400
# @dev "No further breakpoint" marker returned by `accrual`.
NO_BREAK: constant(uint256) = 2**40 - 1
# @dev Largest cap: its per-second rate must fit the staking contract's
#      64-bit cached rate (about 581.7M VVV a year), or every accrual there
#      would revert, and no rate change (which checkpoints first) could undo it.
MAX_CAP: public(constant(uint256)) = (2**64 - 1) * SECONDS_PER_YEAR


# @dev Hard cap on the annual emission rate, fixed at deploy.
MAX_ANNUAL_EMISSION: public(immutable(uint256))


struct SplitPoint:
    utilizationBps: uint256
    stakerBps: uint256


struct ScheduledRate:
    start: uint256
    annualRate: uint256


# @dev The staking contract (accrues and mints); set once at wiring.
staking: public(IStakedVVV)
# @dev Receives the treasury's share of emissions.
treasury: public(address)
# @dev May report utilization.
oracle: public(address)

# @dev Annual rate in force since `lastCheckpoint`.
annualRate: public(uint256)
# @dev Pending scheduled changes, sorted by start, latest first (the next
#      one to take effect is the last element).
_schedule: DynArray[ScheduledRate, MAX_SCHEDULE]
_curve: DynArray[SplitPoint, MAX_CURVE_POINTS]

# @dev Last reported utilization, its time, and the stakers' share the
#      curve gave for it (kept current when the curve changes).
utilizationBps: public(uint256)
lastReport: public(uint256)
reportedStakerBps: public(uint256)
maxReportAge: public(uint256)
staleStakerBps: public(uint256)

# @dev Totals emitted up to `lastCheckpoint`, under the config of the time.
lastCheckpoint: public(uint256)
_emittedAtCheckpoint: uint256
_stakerEmittedAtCheckpoint: uint256


event AnnualRateChanged:
    previousRate: uint256
    newRate: uint256


event RateScheduled:
    start: indexed(uint256)
    annualRate: uint256


event ScheduledRateCancelled:
    start: indexed(uint256)


event SplitCurveChanged:
    points: DynArray[SplitPoint, MAX_CURVE_POINTS]


event UtilizationReported:
    utilizationBps: uint256
    stakerBps: uint256


event StaleFallbackChanged:
    maxReportAge: uint256
    staleStakerBps: uint256


event OracleChanged:
    oracle: indexed(address)


event TreasuryChanged:
    treasury: indexed(address)


event StakingSet:
    staking: indexed(address)


@deploy
def __init__(
    max_annual_emission: uint256,
    annual_rate: uint256,
    curve: DynArray[SplitPoint, MAX_CURVE_POINTS],
    max_report_age: uint256,
    stale_staker_bps: uint256,
    treasury: address,
    oracle: address,
):
    """
    @notice Deploys the emissions policy: the capped annual rate, the split curve and the
            stale-report fallback.
    @param max_annual_emission Immutable cap on the annual rate (wei per year).
    @param annual_rate Initial annual rate (wei per year).
    @param curve Split curve points (utilization bps -> stakers' bps).
    @param max_report_age Seconds after which a utilization report is stale.
    @param stale_staker_bps Stakers' share while the report is stale or absent.
    @param treasury Receiver of the treasury's share.
    @param oracle Reporter of utilization.
    """
    ownable.__init__()
    ownable_2step.__init__()
    assert max_annual_emission > 0, "emissions: zero cap"
    assert max_annual_emission <= MAX_CAP, "emissions: cap too large"
    assert annual_rate <= max_annual_emission, "emissions: rate above cap"
    assert treasury != empty(address), "emissions: zero treasury"
    MAX_ANNUAL_EMISSION = max_annual_emission
    self._check_curve(curve)
    self._check_stale(max_report_age, stale_staker_bps)
    self.annualRate = annual_rate
    self._curve = curve
    self.reportedStakerBps = self._curve_at(0)
    self.maxReportAge = max_report_age
    self.staleStakerBps = stale_staker_bps
    self.treasury = treasury
    self.oracle = oracle
    self.lastCheckpoint = block.timestamp


################################################################
#                         GOVERNANCE                           #
################################################################


@external
def setStaking(staking: address):
    """
    @notice Wires the staking contract, once.
    @param staking The StakedVVV contract.
    """
    ownable._check_owner()
    assert self.staking.address == empty(address), "emissions: staking already set"
    assert staking != empty(address), "emissions: zero address"
    staked_vvv: IStakedVVV = IStakedVVV(staking)
    self.staking = staked_vvv
    extcall staked_vvv.checkpoint()
    log StakingSet(staking=staking)


@external
@nonreentrant
def setAnnualRate(annual_rate: uint256):
    """
    @notice Changes the annual rate from now on; what accrued before stays.
    @param annual_rate New annual rate in wei, at most the cap.
    """
    ownable._check_owner()
    assert annual_rate <= MAX_ANNUAL_EMISSION, "emissions: rate above cap"
    self._checkpoint()
    previous: uint256 = self.annualRate
    self.annualRate = annual_rate
    log AnnualRateChanged(previousRate=previous, newRate=annual_rate)


@external
@nonreentrant
def scheduleRate(start: uint256, annual_rate: uint256):
    """
    @notice Schedules the annual rate to become `annual_rate` at `start`.
            It takes effect at that second whether or not anyone calls.
    @param start Future timestamp, not already scheduled.
    @param annual_rate Annual rate in wei, at most the cap.
    """
    ownable._check_owner()
    assert start > block.timestamp, "emissions: start not in future"
    assert start < NO_BREAK, "emissions: start too far"
    assert annual_rate <= MAX_ANNUAL_EMISSION, "emissions: rate above cap"
    # Checkpoint first: it folds entries that have started, freeing room.
    self._checkpoint()
    assert len(self._schedule) < MAX_SCHEDULE, "emissions: schedule full"
    # Insert keeping the order latest-first; bounded by MAX_SCHEDULE.
    updated: DynArray[ScheduledRate, MAX_SCHEDULE] = []
    placed: bool = False
    for entry: ScheduledRate in self._schedule:
        assert entry.start != start, "emissions: start already scheduled"
        if not placed and entry.start < start:
            updated.append(ScheduledRate(start=start, annualRate=annual_rate))
            placed = True
        updated.append(entry)
    if not placed:
        updated.append(ScheduledRate(start=start, annualRate=annual_rate))
    self._schedule = updated
    log RateScheduled(start=start, annualRate=annual_rate)


@external
@nonreentrant
def cancelScheduledRate(start: uint256):
    """
    @notice Removes a pending scheduled change.
    @param start The start of the pending entry.
    """
    ownable._check_owner()
    self._checkpoint()
    updated: DynArray[ScheduledRate, MAX_SCHEDULE] = []
    found: bool = False
    for entry: ScheduledRate in self._schedule:
        if entry.start == start:
            found = True
        else:
            updated.append(entry)
    assert found, "emissions: not scheduled"
    self._schedule = updated
    log ScheduledRateCancelled(start=start)


@external
@nonreentrant
def setSplitCurve(points: DynArray[SplitPoint, MAX_CURVE_POINTS]):
    """
    @notice Replaces the utilization -> stakers' share curve. The share for
            the last report is recomputed on the new curve from now on.
    @param points 2 to 8 points; utilization strictly increasing from 0 to
           10_000 bps; shares at most 10_000 bps.
    """
    ownable._check_owner()
    self._check_curve(points)
    self._checkpoint()
    self._curve = points
    self.reportedStakerBps = self._curve_at(self.utilizationBps)
    log SplitCurveChanged(points=points)


@external
@nonreentrant
def setStaleFallback(max_report_age: uint256, stale_staker_bps: uint256):
    """
    @notice Sets how old a report may be and the split used past that age.
    @param max_report_age Seconds, between one hour and 30 days.
    @param stale_staker_bps Stakers' share while stale, at most 10_000.
    """
    ownable._check_owner()
    self._check_stale(max_report_age, stale_staker_bps)
    self._checkpoint()
    self.maxReportAge = max_report_age
    self.staleStakerBps = stale_staker_bps
    log StaleFallbackChanged(maxReportAge=max_report_age, staleStakerBps=stale_staker_bps)


@external
def setOracle(oracle: address):
    """
    @notice Sets the utilization reporter; zero disables reporting.
    @param oracle The new oracle.
    """
    ownable._check_owner()
    self.oracle = oracle
    log OracleChanged(oracle=oracle)


@external
def setTreasury(treasury: address):
    """
    @notice Sets the receiver of the treasury's share. What is not yet
            released goes to the new treasury.
    @param treasury The new treasury, not zero.
    """
    ownable._check_owner()
    assert treasury != empty(address), "emissions: zero treasury"
    self.treasury = treasury
    log TreasuryChanged(treasury=treasury)


################################################################
#                            ORACLE                            #
################################################################


@external
@nonreentrant
def reportUtilization(utilization_bps: uint256):
    """
    @notice Reports network utilization; the split follows the curve from now.
    @param utilization_bps Capacity in use, 0 to 10_000 bps.
    """
    assert msg.sender == self.oracle, "emissions: not oracle"
    assert utilization_bps <= BPS, "emissions: utilization above 100%"
    self._checkpoint()
    staker_bps: uint256 = self._curve_at(utilization_bps)
    self.utilizationBps = utilization_bps
    self.lastReport = block.timestamp
    self.reportedStakerBps = staker_bps
    log UtilizationReported(utilizationBps=utilization_bps, stakerBps=staker_bps)


################################################################
#                            VIEWS                             #
################################################################


@view
@external
def accrual(t0: uint256, t1: uint256) -> (uint256, uint256, uint256):
    """
    @notice What the staking contract accrues: stakers' emissions over
            [t0, t1), the stakers' per-second rate in force at t1, and the
            next time that rate may change (its cache is valid up to then).
            Time before the last checkpoint is not counted: it can only occur
            before the staking contract is wired, when nothing is staked.
    @param t0 Start.
    @param t1 End, not before t0.
    @return (stakers' emissions in wei, stakers' rate in wei/s, next break).
    """
    assert t1 >= t0, "emissions: bad interval"
    assert t1 <= NO_BREAK, "emissions: time out of range"
    total: uint256 = 0
    staker: uint256 = 0
    total, staker = self._emissions(max(t0, self.lastCheckpoint), t1)
    return staker, self._staker_rate_at(t1), self._next_break(t1)


@view
@external
def emitted() -> uint256:
    """
    @notice Total VVV emitted by the schedule up to now (stakers + treasury).
    @return VVV in wei.
    """
    total: uint256 = 0
    staker: uint256 = 0
    total, staker = self._emissions(self.lastCheckpoint, block.timestamp)
    return self._emittedAtCheckpoint + total


@view
@external
def stakerEmitted() -> uint256:
    """
    @notice The stakers' part of `emitted()`.
    @return VVV in wei.
    """
    total: uint256 = 0
    staker: uint256 = 0
    total, staker = self._emissions(self.lastCheckpoint, block.timestamp)
    return self._stakerEmittedAtCheckpoint + staker


@view
@external
def treasuryEmitted() -> uint256:
    """
    @notice The treasury's part of `emitted()`.
    @return VVV in wei.
    """
    total: uint256 = 0
    staker: uint256 = 0
    total, staker = self._emissions(self.lastCheckpoint, block.timestamp)
    return (
        self._emittedAtCheckpoint - self._stakerEmittedAtCheckpoint + total - staker
    )


@view
@external
def currentAnnualRate() -> uint256:
    """
    @notice The annual rate in force now, scheduled changes included.
    @return Wei per year.
    """
    return self._annual_at(block.timestamp)


@view
@external
def currentStakerBps() -> uint256:
    """
    @notice The stakers' share in force now (the stale fallback included).
    @return Basis points.
    """
    return self._staker_bps_at(block.timestamp)


@view
@external
def isReportStale() -> bool:
    """
    @notice True when the split is on the stale fallback.
    @return True while stale or before the first report.
    """
    return self.lastReport == 0 or block.timestamp >= self.lastReport + self.maxReportAge


@view
@external
def stakerBpsAt(utilization_bps: uint256) -> uint256:
    """
    @notice The curve's stakers' share at a utilization.
    @param utilization_bps Capacity in use, 0 to 10_000 bps.
    @return Basis points.
    """
    assert utilization_bps <= BPS, "emissions: utilization above 100%"
    return self._curve_at(utilization_bps)


@view
@external
def splitCurve() -> DynArray[SplitPoint, MAX_CURVE_POINTS]:
    """
    @notice The utilization -> stakers' share curve.
    @return The points, utilization increasing.
    """
    return self._curve


@view
@external
def scheduledRates() -> DynArray[ScheduledRate, MAX_SCHEDULE]:
    """
    @notice Pending scheduled changes, latest first.
    @return (start, annual rate) pairs.
    """
    return self._schedule


################################################################
#                           INTERNAL                           #
################################################################


@internal
def _checkpoint():
    # The staking contract accrues first, under the config in force so far,
    # and drops its cached rate; then our own totals move to now.
    if self.staking.address != empty(address):
        extcall self.staking.checkpoint()
    total: uint256 = 0
    staker: uint256 = 0
    total, staker = self._emissions(self.lastCheckpoint, block.timestamp)
    self._emittedAtCheckpoint += total
    self._stakerEmittedAtCheckpoint += staker
    self.annualRate = self._annual_at(block.timestamp)
    for _: uint256 in range(MAX_SCHEDULE):
        n: uint256 = len(self._schedule)
        if n == 0 or self._schedule[n - 1].start > block.timestamp:
            break
        self._schedule.pop()
    self.lastCheckpoint = block.timestamp


@view
@internal
def _emissions(t0: uint256, t1: uint256) -> (uint256, uint256):
    # Total and stakers' emissions over [t0, t1), integrating the
    # piecewise-constant rate between breakpoints (scheduled changes and
    # the report's staleness). Valid for t0 >= lastCheckpoint.
    total: uint256 = 0
    staker: uint256 = 0
    t: uint256 = t0
    for _: uint256 in range(MAX_SCHEDULE + 2):
        if t >= t1:
            break
        nxt: uint256 = min(self._next_break(t), t1)
        per_second: uint256 = self._annual_at(t) // SECONDS_PER_YEAR
        total += (nxt - t) * per_second
        staker += (nxt - t) * (per_second * self._staker_bps_at(t) // BPS)
        t = nxt
    # Unreachable from `accrual` (t1 <= NO_BREAK) and from now on (16
    # scheduled starts and one stale time make at most 18 intervals).
    assert t >= t1, "emissions: too many breakpoints"
    return total, staker


@view
@internal
def _staker_rate_at(t: uint256) -> uint256:
    return self._annual_at(t) // SECONDS_PER_YEAR * self._staker_bps_at(t) // BPS


@view
@internal
def _annual_at(t: uint256) -> uint256:
    # The latest scheduled entry started by t, else the base rate.
    for entry: ScheduledRate in self._schedule:
        if entry.start <= t:
            return entry.annualRate
    return self.annualRate


@view
@internal
def _staker_bps_at(t: uint256) -> uint256:
    last: uint256 = self.lastReport
    if last == 0 or t >= last + self.maxReportAge:
        return self.staleStakerBps
    return self.reportedStakerBps


@view
@internal
def _next_break(t: uint256) -> uint256:
    # The first time after t at which the per-second rates may change.
    nxt: uint256 = NO_BREAK
    for entry: ScheduledRate in self._schedule:
        if entry.start > t:
            nxt = entry.start
        else:
            break
    last: uint256 = self.lastReport
    if last != 0:
        stale_at: uint256 = last + self.maxReportAge
        if stale_at > t and stale_at < nxt:
            nxt = stale_at
    return nxt


@view
@internal
def _curve_at(u: uint256) -> uint256:
    # Linear interpolation, rounded down.
    points: DynArray[SplitPoint, MAX_CURVE_POINTS] = self._curve
    for i: uint256 in range(1, MAX_CURVE_POINTS):
        if i >= len(points):
            break
        a: SplitPoint = points[i - 1]
        b: SplitPoint = points[i]
        if u <= b.utilizationBps:
            span: uint256 = b.utilizationBps - a.utilizationBps
            return (
                a.stakerBps * (b.utilizationBps - u) + b.stakerBps * (u - a.utilizationBps)
            ) // span
    return points[len(points) - 1].stakerBps


@pure
@internal
def _check_curve(points: DynArray[SplitPoint, MAX_CURVE_POINTS]):
    n: uint256 = len(points)
    assert n >= 2, "emissions: curve needs 2 points"
    assert points[0].utilizationBps == 0, "emissions: curve must start at 0"
    assert points[n - 1].utilizationBps == BPS, "emissions: curve must end at 100%"
    for i: uint256 in range(MAX_CURVE_POINTS):
        if i >= n:
            break
        assert points[i].stakerBps <= BPS, "emissions: share above 100%"
        if i > 0:
            assert (
                points[i].utilizationBps > points[i - 1].utilizationBps
            ), "emissions: curve not increasing"


@pure
@internal
def _check_stale(max_report_age: uint256, stale_staker_bps: uint256):
    assert (
        max_report_age >= MIN_REPORT_AGE and max_report_age <= MAX_REPORT_AGE
    ), "emissions: bad report age"
    assert stale_staker_bps <= BPS, "emissions: share above 100%"
