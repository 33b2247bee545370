"""The mint curve's cost C(S), re-derived as an exact rational (independently of the contract
and of `venice_sdk.model.curve`): the trapezoids below the knot, then the partial interval. The
mint-curve and DIEM-lock unit tests check the contract's quotes against it."""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

from tests.support.constants import STEP, UNIT


@functools.cache
def _trapezoids(rates: tuple[int, ...]) -> list[Fraction]:
    """C at each knot: the sum of the exact trapezoids below it."""
    out = [Fraction(0)]
    for a, b in itertools.pairwise(rates):
        out.append(out[-1] + Fraction((a + b) * STEP, 2 * UNIT))
    return out


def exact_cost(rates: list[int], supply: int) -> Fraction:
    """C(supply) as an exact rational: trapezoids below, then the partial interval."""
    n = len(rates) - 1
    i = min(supply // STEP, n)
    total = _trapezoids(tuple(rates))[i]
    s = supply - i * STEP
    if s:
        assert i < n, "past the end"
        a, b = rates[i], rates[i + 1]
        total += Fraction(a * s, UNIT) + Fraction((b - a) * s * s, 2 * STEP * UNIT)
    return total


def floor_cost(rates: list[int], supply: int) -> int:
    c = exact_cost(rates, supply)
    return c.numerator // c.denominator
