"""The emissions the tests expect, computed independently of the contracts: the controller's
per-second stream, the stakers' share, and the split curve's interpolation."""

from __future__ import annotations

import itertools

from tests.support.constants import BPS, YEAR


def per_second(annual: int) -> int:
    """The controller's stream: annual // 31_536_000 wei per second."""
    return annual // YEAR


def staker_per_second(annual: int, staker_bps: int) -> int:
    return per_second(annual) * staker_bps // BPS


def integrate(segments: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """(total, stakers') emissions over segments of (start, end, annual, staker_bps)."""
    total = staker = 0
    for start, end, annual, bps in segments:
        assert end >= start
        total += (end - start) * per_second(annual)
        staker += (end - start) * staker_per_second(annual, bps)
    return total, staker


def curve_at(points: list[tuple[int, int]], u: int) -> int:
    """Piecewise-linear interpolation of a split curve, rounded down."""
    for (ua, sa), (ub, sb) in itertools.pairwise(points):
        if ua <= u <= ub:
            return (sa * (ub - u) + sb * (u - ua)) // (ub - ua)
    raise AssertionError(f"utilization {u} outside the curve")
