"""Mirror of `contracts/EmissionsController.vy`."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from venice_sdk.errors import VeniceError

__all__ = [
    "BPS",
    "MAX_CAP",
    "MAX_CURVE_POINTS",
    "MAX_REPORT_AGE",
    "MAX_SCHEDULE",
    "MIN_REPORT_AGE",
    "NO_BREAK",
    "SECONDS_PER_YEAR",
    "EmissionsModel",
    "ModelRevert",
    "check_curve",
    "check_stale",
    "curve_at",
    "require",
]

SECONDS_PER_YEAR = 31_536_000
BPS = 10_000
MAX_CURVE_POINTS = 8
MAX_SCHEDULE = 16
MIN_REPORT_AGE = 3_600
MAX_REPORT_AGE = 30 * 86_400
NO_BREAK = 2**40 - 1
# The largest cap: its per-second rate fits the staking contract's 64-bit cached rate.
MAX_CAP = (2**64 - 1) * SECONDS_PER_YEAR


class ModelRevert(VeniceError):
    """What the contract would revert with; `args[0]` is its reason string."""

    @property
    def reason(self) -> str:
        return str(self.args[0])


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise ModelRevert(reason)


def curve_at(curve: list[tuple[int, int]], u: int) -> int:
    """Stakers' bps at utilization `u`: linear between points, rounded down."""
    for (ax, ay), (bx, by) in pairwise(curve):
        if u <= bx:
            return (ay * (bx - u) + by * (u - ax)) // (bx - ax)
    return curve[-1][1]


def check_curve(curve: list[tuple[int, int]]) -> None:
    require(len(curve) >= 2, "emissions: curve needs 2 points")
    require(len(curve) <= MAX_CURVE_POINTS, "emissions: curve too long")
    require(curve[0][0] == 0, "emissions: curve must start at 0")
    require(curve[-1][0] == BPS, "emissions: curve must end at 100%")
    for i, (x, y) in enumerate(curve):
        require(y <= BPS, "emissions: share above 100%")
        if i > 0:
            require(x > curve[i - 1][0], "emissions: curve not increasing")


def check_stale(max_report_age: int, stale_staker_bps: int) -> None:
    require(MIN_REPORT_AGE <= max_report_age <= MAX_REPORT_AGE, "emissions: bad report age")
    require(stale_staker_bps <= BPS, "emissions: share above 100%")


@dataclass
class EmissionsModel:
    max_annual: int
    annual_rate: int
    curve: list[tuple[int, int]]
    max_report_age: int
    stale_staker_bps: int
    last_checkpoint: int
    # Pending (start, annual), sorted by start ascending (the contract stores it reversed).
    schedule: list[tuple[int, int]] = field(default_factory=list)
    utilization_bps: int = 0
    last_report: int = 0
    reported_staker_bps: int = 0
    emitted_at_checkpoint: int = 0
    staker_emitted_at_checkpoint: int = 0

    def __post_init__(self) -> None:
        self.reported_staker_bps = curve_at(self.curve, 0)

    # --- views -------------------------------------------------------------------------

    def annual_at(self, t: int) -> int:
        rate = self.annual_rate
        for start, annual in self.schedule:
            if start <= t:
                rate = annual
        return rate

    def staker_bps_at(self, t: int) -> int:
        if self.last_report == 0 or t >= self.last_report + self.max_report_age:
            return self.stale_staker_bps
        return self.reported_staker_bps

    def staker_rate_at(self, t: int) -> int:
        return self.annual_at(t) // SECONDS_PER_YEAR * self.staker_bps_at(t) // BPS

    def next_break(self, t: int) -> int:
        nxt = NO_BREAK
        for start, _ in self.schedule:
            if start > t:
                nxt = start
                break
        if self.last_report != 0:
            stale_at = self.last_report + self.max_report_age
            if t < stale_at < nxt:
                nxt = stale_at
        return nxt

    def emissions(self, t0: int, t1: int) -> tuple[int, int]:
        """(total, stakers') emitted over [t0, t1) under the current config."""
        total = staker = 0
        t = t0
        while t < t1:
            nxt = min(self.next_break(t), t1)
            per_second = self.annual_at(t) // SECONDS_PER_YEAR
            total += (nxt - t) * per_second
            staker += (nxt - t) * (per_second * self.staker_bps_at(t) // BPS)
            t = nxt
        return total, staker

    def accrual(self, t0: int, t1: int) -> tuple[int, int, int]:
        """(stakers' amount over [t0, t1), stakers' rate at t1, next break after t1)."""
        require(t1 >= t0, "emissions: bad interval")
        require(t1 <= NO_BREAK, "emissions: time out of range")
        _, staker = self.emissions(max(t0, self.last_checkpoint), t1)
        return staker, self.staker_rate_at(t1), self.next_break(t1)

    def emitted(self, now: int) -> int:
        return self.emitted_at_checkpoint + self.emissions(self.last_checkpoint, now)[0]

    def staker_emitted(self, now: int) -> int:
        return self.staker_emitted_at_checkpoint + self.emissions(self.last_checkpoint, now)[1]

    def treasury_emitted(self, now: int) -> int:
        total, staker = self.emissions(self.last_checkpoint, now)
        return self.emitted_at_checkpoint - self.staker_emitted_at_checkpoint + total - staker

    # --- changes (the caller checkpoints the staking model first) -----------------------

    def checkpoint(self, now: int) -> None:
        total, staker = self.emissions(self.last_checkpoint, now)
        self.emitted_at_checkpoint += total
        self.staker_emitted_at_checkpoint += staker
        self.annual_rate = self.annual_at(now)
        self.schedule = [(s, a) for s, a in self.schedule if s > now]
        self.last_checkpoint = now

    def check_annual_rate(self, annual: int) -> None:
        require(annual <= self.max_annual, "emissions: rate above cap")

    def set_annual_rate(self, now: int, annual: int) -> None:
        self.checkpoint(now)
        self.annual_rate = annual

    def check_schedule(self, now: int, start: int, annual: int) -> None:
        require(start > now, "emissions: start not in future")
        require(start < NO_BREAK, "emissions: start too far")
        self.check_annual_rate(annual)
        pending = [s for s, _ in self.schedule if s > now]  # what survives the checkpoint
        require(len(pending) < MAX_SCHEDULE, "emissions: schedule full")
        require(start not in pending, "emissions: start already scheduled")

    def schedule_rate(self, now: int, start: int, annual: int) -> None:
        self.checkpoint(now)
        self.schedule = sorted([*self.schedule, (start, annual)])

    def check_cancel(self, start: int) -> None:
        require(any(s == start for s, _ in self.schedule), "emissions: not scheduled")

    def cancel_scheduled_rate(self, now: int, start: int) -> None:
        self.checkpoint(now)
        self.schedule = [(s, a) for s, a in self.schedule if s != start]

    def set_split_curve(self, now: int, curve: list[tuple[int, int]]) -> None:
        self.checkpoint(now)
        self.curve = list(curve)
        self.reported_staker_bps = curve_at(self.curve, self.utilization_bps)

    def set_stale_fallback(self, now: int, max_report_age: int, stale_staker_bps: int) -> None:
        self.checkpoint(now)
        self.max_report_age = max_report_age
        self.stale_staker_bps = stale_staker_bps

    def check_report(self, utilization_bps: int) -> None:
        require(utilization_bps <= BPS, "emissions: utilization above 100%")

    def report_utilization(self, now: int, utilization_bps: int) -> None:
        self.checkpoint(now)
        self.utilization_bps = utilization_bps
        self.last_report = now
        self.reported_staker_bps = curve_at(self.curve, utilization_bps)
