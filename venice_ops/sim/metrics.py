"""The run's derived metrics: circulating supply, net inflation, real yield, treasury runway.

Each day the engine reads the contracts (`Backend.metrics`, `Backend.supply_reads`) and
`derive` turns those reads and the earlier rows into these columns, integers in wei (or USDC
units) where they are amounts, floats where they are rates. docs/simulator.md defines them:

- `circulating_supply`: `totalSupply` + the stakers' pending rewards + what the treasury could
  release now (VVV owed but not minted yet); `circulating_liquid`: that minus the VVV staked
  (sVVV, locked included) and the VVV cooling down to leave the stake.
- `net_inflation_30d`, `net_inflation_365d`: VVV emitted minus VVV burned over the trailing
  window (from the close of day d-N to the close of day d; while the run is younger than N
  days the window starts at the deploy, where every counter is 0, and counts d + 1 days);
  `net_inflation_rate_*`: that a year (x 365 / window days) over the circulating supply.
- `emission_yield_30d`: the stakers' part of the emissions over the trailing 30 days, a year,
  over the VVV staked; `real_yield_30d`: the VVV burned by revenue-funded buybacks over the
  same window, a year, over the circulating supply (a burn of B out of C raises every holder's
  share of the supply, stakers' included, by B / C: yield paid by revenue, diluting no one).
- `treasury_value`: the treasury's USDC plus what its VVV would fetch from the pool now (USDC
  units); `treasury_runway_days`: that over the scenario's `treasury_spend` a day (infinite
  when the spend is 0). The simulated treasury does not spend: the runway is a reading.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["COLUMNS", "WINDOWS", "derive", "runway_text"]

WINDOWS = (30, 365)

# column -> decimals of its token (None: a plain number), in the CSV's order
COLUMNS: dict[str, int | None] = {
    "pending_rewards": 18,
    "treasury_releasable": 18,
    "circulating_supply": 18,
    "circulating_liquid": 18,
    "net_inflation_30d": 18,
    "net_inflation_365d": 18,
    "net_inflation_rate_30d": None,
    "net_inflation_rate_365d": None,
    "emission_yield_30d": None,
    "real_yield_30d": None,
    "treasury_value": 6,
    "treasury_runway_days": None,
}


def _window(
    rows: Sequence[dict[str, Any]], day: int, days: int, key: str, now: int
) -> tuple[int, int]:
    """(the counter's growth over the trailing `days` days, the window's length in days)."""
    if day >= days:
        return now - int(rows[day - days][key]), days
    return now, day + 1  # from the deploy, where every counter is 0


def _yearly(amount: int, window: int, base: int) -> float:
    """`amount` over `window` days, a year (365 days), as a fraction of `base`."""
    return amount * 365 / window / base if base else 0.0


def derive(
    rows: Sequence[dict[str, Any]],
    day: int,
    m: dict[str, int],
    reads: dict[str, int],
    treasury_vvv_usdc: int,
    spend: int,
) -> dict[str, Any]:
    """The derived columns of day `day`, from the day's reads and the rows before it.

    `m` is `Backend.metrics()`, `reads` is `Backend.supply_reads(...)` (`pending_rewards`,
    `treasury_releasable`, `staker_emitted`), `treasury_vvv_usdc` what the treasury's VVV
    fetches from the pool (USDC units) and `spend` the treasury's spend a day (USDC units).
    Earlier rows carry `net_emitted`, `staker_emitted` and `buyback_burned` (added here)."""
    circulating = m["supply"] + reads["pending_rewards"] + reads["treasury_releasable"]
    net_now = m["emitted"] - m["burned"]
    out: dict[str, Any] = {
        "pending_rewards": reads["pending_rewards"],
        "treasury_releasable": reads["treasury_releasable"],
        "circulating_supply": circulating,
        "circulating_liquid": circulating - m["staked"] - m["cooling"],
        "net_emitted": net_now,
        "staker_emitted": reads["staker_emitted"],
        "buyback_burned": m["buyback_burned"],  # as the row has it; the window reads it back
    }
    for days in WINDOWS:
        net, window = _window(rows, day, days, "net_emitted", net_now)
        out[f"net_inflation_{days}d"] = net
        out[f"net_inflation_rate_{days}d"] = _yearly(net, window, circulating)
    paid, window = _window(rows, day, 30, "staker_emitted", reads["staker_emitted"])
    out["emission_yield_30d"] = _yearly(paid, window, m["staked"])
    burned, window = _window(rows, day, 30, "buyback_burned", m["buyback_burned"])
    out["real_yield_30d"] = _yearly(burned, window, circulating)
    value = m["treasury_usdc"] + treasury_vvv_usdc
    out["treasury_value"] = value
    out["treasury_runway_days"] = value / spend if spend else math.inf
    return out


def runway_text(days: float) -> str:
    """A runway for a table: `infinite (no spend)`, or days with years beside."""
    if math.isinf(days):
        return "infinite (no spend)"
    if days != days:  # NaN
        return "-"
    return f"{days:,.0f} days ({days / 365:,.1f} years)"
