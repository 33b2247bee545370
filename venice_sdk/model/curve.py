"""Mirror of `contracts/MintCurve.vy`, and the default curve's table.

The marginal rate (sVVV wei per whole DIEM) is linear between knots every `STEP` DIEM; C(S) is
the sVVV it costs to take supply from 0 to S (exact at knots; `cost_to` rounds it down between);
a mint of X at supply S gives Cinv(C(S) + X) - S, where Cinv(T) is the largest supply with
C <= T, both exact, so the DIEM's exact cost never exceeds the sVVV locked. An exact-out mint
of D costs floor C(S + D) - floor C(S).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal, localcontext

from venice_sdk.model.emissions import require

__all__ = [
    "MASK_128",
    "MAX_KNOTS",
    "MAX_PUNITIVE",
    "MAX_RATE",
    "MODES",
    "STEP",
    "UNIT",
    "MintCurveModel",
    "check_rates",
    "curve_rate",
    "default_rates",
]

UNIT = 10**18
STEP = 500 * UNIT
MAX_KNOTS = 256
MAX_RATE = 10**27
MAX_PUNITIVE = 1_000_000
MASK_128 = 2**128 - 1
CLOSED, PUNITIVE, OPEN = 0, 1, 2
MODES = {"closed": CLOSED, "punitive": PUNITIVE, "open": OPEN}


def curve_rate(supply_diem: Decimal, base: Decimal, power: Decimal, target: Decimal) -> Decimal:
    """rate(S) = BASE * exp(POWER * (S / TARGET)^3), sVVV per DIEM, at full precision."""
    with localcontext() as ctx:
        ctx.prec = 60
        return base * (power * (supply_diem / target) ** 3).exp()


def default_rates(
    base: int | Decimal = 90,
    power: int | Decimal = 2,
    target: int | Decimal = 38_000,
    max_rate: int = MAX_RATE,
) -> list[int]:
    """Knot rates in sVVV wei per DIEM, every 500 DIEM, up to the last knot within max_rate."""
    rates: list[int] = []
    for i in range(MAX_KNOTS):
        rate = curve_rate(Decimal(i * 500), Decimal(base), Decimal(power), Decimal(target))
        wei = int(rate * UNIT)
        if wei > max_rate:
            break
        rates.append(wei)
    return rates


def check_rates(rates: list[int]) -> None:
    require(len(rates) >= 2, "curve: needs 2 knots")
    require(len(rates) <= MAX_KNOTS, "curve: too many knots")
    for i, r in enumerate(rates):
        require(0 < r <= MAX_RATE, "curve: rate out of bounds")
        if i > 0:
            require(r >= rates[i - 1], "curve: rate decreasing")


def _partial(a: int, b: int, s: int) -> int:
    return 2 * STEP * a * s + (b - a) * s * s


@dataclass
class MintCurveModel:
    rates: list[int]
    mode: int = OPEN
    punitive_multiplier: int = 100

    def __post_init__(self) -> None:
        self.set_curve(self.rates)

    def set_curve(self, rates: list[int]) -> None:
        check_rates(rates)
        self.rates = list(rates)
        self.cum = [0]
        for a, b in itertools.pairwise(rates):
            self.cum.append(self.cum[-1] + (a + b) * STEP // (2 * UNIT))

    def set_launch_mode(self, mode: int, multiplier: int) -> None:
        require(mode <= OPEN, "curve: bad mode")
        require(2 <= multiplier <= MAX_PUNITIVE, "curve: bad multiplier")
        self.mode, self.punitive_multiplier = mode, multiplier

    @property
    def intervals(self) -> int:
        return len(self.rates) - 1

    @property
    def end_supply(self) -> int:
        return self.intervals * STEP

    def cost_parts(self, supply: int) -> tuple[int, int]:
        """C(supply) rounded down, and the remainder dropped (over 2 * STEP * UNIT)."""
        i = supply // STEP
        if i >= self.intervals:
            require(supply == self.end_supply, "curve: past the end")
            return self.cum[-1], 0
        s = supply - i * STEP
        whole, rem = divmod(_partial(self.rates[i], self.rates[i + 1], s), 2 * STEP * UNIT)
        return self.cum[i] + whole, rem

    def cost_to(self, supply: int) -> int:
        return self.cost_parts(supply)[0]

    def inverse(self, target: int, supply: int, rem: int = 0) -> int:
        """Largest supply >= `supply` whose exact C is at most target + rem / (2 * STEP * UNIT)."""
        require(target < self.cum[-1], "curve: past the end")
        i = supply // STEP
        while target >= self.cum[i + 1]:
            i += 1
        a, b = self.rates[i], self.rates[i + 1]
        bound = (target - self.cum[i]) * (2 * STEP * UNIT) + rem + 1
        low, high = 0, STEP
        while high - low > 1:
            mid = (low + high) // 2
            if _partial(a, b, mid) < bound:
                low = mid
            else:
                high = mid
        return i * STEP + low

    def rate_at(self, supply: int) -> int:
        i = supply // STEP
        require(i < self.intervals, "curve: past the end")
        a, b = self.rates[i], self.rates[i + 1]
        return a + (b - a) * (supply - i * STEP) // STEP

    def quote_mint(self, supply: int, svvv_in: int) -> int:
        require(self.mode != CLOSED, "curve: minting closed")
        require(svvv_in <= MASK_128, "curve: amount too large")
        credited = svvv_in // self.punitive_multiplier if self.mode == PUNITIVE else svvv_in
        whole, rem = self.cost_parts(supply)
        return self.inverse(whole + credited, supply, rem) - supply

    def quote_cost(self, supply: int, diem_out: int) -> int:
        require(self.mode != CLOSED, "curve: minting closed")
        require(supply + diem_out < self.end_supply, "curve: past the end")
        cost = self.cost_to(supply + diem_out) - self.cost_to(supply)
        return cost * self.punitive_multiplier if self.mode == PUNITIVE else cost
