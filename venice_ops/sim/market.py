"""The simulator's market: an exogenous VVV price, the arbitrage that trades the pool toward it,
and what follows the price (revenue, API demand, the DIEM price).

`market.price` in a scenario is one of:

- `walk: {drift, volatility}`: a geometric random walk, drift and volatility a year as fractions
  (0.8 for 80%), one step a day, drawn from the run's seed (each Monte Carlo run differs, one
  seed is reproducible);
- `regimes: [{day or date, drift, volatility}, ...]`: the same walk, its drift and volatility
  changing on each regime's first day (the first regime starts on day 0);
- `csv: prices.csv`: historical daily prices, a header `date,price` and optionally `volume`
  (USD traded that day); a day the file skips keeps the last price; the file covers the run.

Every day before the agents decide, an outside arbitrageur trades the VVV/USDC pool toward
the day's price: the largest trade that does not carry the pool's price past the target
(computed in integers with the pair's own `getAmountOut`), capped by `arbitrage.max_trade`
(USD), by `arbitrage.volume_share` of the CSV's volume, and by its wallet (`arbitrage.vvv`,
`arbitrage.usdc`, funded at setup). The trade is one swap through the router on the chain
backend and the same swap in the model. Prices are wad (USD per VVV times 10**18).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from venice_sdk.model.value import get_amount_out

if TYPE_CHECKING:
    from venice_ops.sim.backend import Backend
    from venice_ops.sim.scenario import Scenario

WAD = 10**18
PRICE = 10**30  # USDC base units per VVV wei, times this, is a wad price
YEAR_DAYS = 365


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Regime(_Strict):
    """A stretch of the walk: from `day` (or `date`) on, this drift and volatility a year."""

    day: int | None = Field(default=None, ge=0)
    date: dt.date | None = None
    drift: float = Field(default=0.0, ge=-10, le=10)  # a year: 0.5 for +50%
    volatility: float = Field(default=0.0, ge=0, le=10)  # a year: 0.8 for 80%

    @model_validator(mode="after")
    def _when(self) -> Regime:
        if self.day is not None and self.date is not None:
            raise ValueError("give day or date, not both")
        return self


class Price(_Strict):
    """The VVV market price: exactly one of walk, regimes, csv."""

    start: float | None = Field(default=None, gt=0)  # USD per VVV; default the pool's
    walk: Regime | None = None
    regimes: list[Regime] | None = Field(default=None, min_length=1)
    csv: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Price:
        chosen = [k for k in ("walk", "regimes", "csv") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of walk, regimes, csv")
        if self.csv is not None and self.start is not None:
            raise ValueError("a csv price starts at the file's price: drop start")
        if self.walk is not None and (self.walk.day or self.walk.date):
            raise ValueError("a walk starts on day 0: use regimes for later starts")
        if self.regimes is not None and any(r.day is None and r.date is None for r in self.regimes):
            raise ValueError("each regime needs a day or a date")
        return self


class Arbitrage(_Strict):
    """The outside arbitrageur: its wallet at setup and what it may trade a day."""

    vvv: float = Field(default=100_000, ge=0)  # VVV, from the deployer
    usdc: float = Field(default=1_000_000, ge=0)  # USDC, minted
    max_trade: float | None = Field(default=None, gt=0)  # USD a trade
    volume_share: float | None = Field(default=None, gt=0, le=1)  # of the CSV's volume


# --- the price path ----------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """A CSV's daily prices and volumes (None when the file has no volume column)."""

    prices: dict[dt.date, float]
    volumes: dict[dt.date, float] | None


class CsvError(ValueError):
    """A price CSV that cannot be used; the message names the file and line."""


def _positive(text: str, what: str, where: str, zero: bool = False) -> float:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise CsvError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise CsvError(f"{where}: {what} {text} is not a positive number")
    return value


def read_history(path: Path) -> History:
    """The CSV at `path`, checked line by line: dates in order, positive prices."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CsvError(f"{path}: cannot read: {exc.strerror}") from None
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "date" not in header or "price" not in header:
        raise CsvError(f"{path}:1: the header needs date and price (and optionally volume)")
    at = {name: header.index(name) for name in ("date", "price", "volume") if name in header}
    prices: dict[dt.date, float] = {}
    volumes: dict[dt.date, float] | None = {} if "volume" in at else None
    last: dt.date | None = None
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path}:{number}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise CsvError(f"{where}: {len(row)} fields, the header has {len(header)}")
        text_date = row[at["date"]].strip()
        try:
            date = dt.date.fromisoformat(text_date)
        except ValueError:
            raise CsvError(f"{where}: {text_date!r} is not a date (YYYY-MM-DD)") from None
        if last is not None and date <= last:
            raise CsvError(f"{where}: {date} is not after the line before's {last}")
        last = date
        prices[date] = _positive(row[at["price"]].strip(), "price", where)
        if volumes is not None:
            volumes[date] = _positive(row[at["volume"]].strip(), "volume", where, zero=True)
    if not prices:
        raise CsvError(f"{path}: no prices after the header")
    return History(prices, volumes)


def csv_path(scenario: Scenario) -> Path | None:
    """The scenario's price CSV: relative to the scenario file's folder when it has one."""
    price = scenario.market.price
    if price is None or price.csv is None:
        return None
    path = Path(price.csv)
    source = Path(scenario._source)
    if not path.is_absolute() and source.is_file():
        return source.parent / path
    return path


def run_dates(scenario: Scenario) -> list[dt.date]:
    start = scenario.start or dt.date(2025, 1, 27)
    return [start + dt.timedelta(days=d) for d in range(scenario.days)]


def problems(scenario: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """The market's checks that need the whole scenario: regimes in order within the run, a
    CSV that reads and covers the run."""
    price = scenario.market.price
    found: list[tuple[tuple[Any, ...], str]] = []
    if price is None:
        if scenario.market.diem_price == "market":
            found.append(
                (("market", "diem_price"), "market follows the VVV price: give market.price")
            )
        if scenario.market.elasticity:
            found.append((("market", "elasticity"), "follows the VVV price: give market.price"))
        return found
    if price.regimes is not None:
        days = [
            r.day if r.day is not None else scenario.day_of(r.date)  # type: ignore[arg-type]
            for r in price.regimes
        ]
        loc = ("market", "price", "regimes")
        if days[0] != 0:
            found.append(((*loc, 0), f"the first regime starts on day {days[0]}, not day 0"))
        for i, (before, day) in enumerate(itertools.pairwise(days), start=1):
            if day <= before:
                found.append(((*loc, i), f"day {day} is not after the regime before's {before}"))
        for i, day in enumerate(days):
            if day >= scenario.days:
                found.append(((*loc, i), f"day {day} is past the last day, {scenario.days - 1}"))
    path = csv_path(scenario)
    if path is not None:
        loc = ("market", "price", "csv")
        try:
            history = read_history(path)
        except CsvError as exc:
            return [(loc, str(exc))]
        dates = run_dates(scenario)
        first, last = min(history.prices), max(history.prices)
        if first > dates[0] or last < dates[-1]:
            found.append(
                (
                    loc,
                    f"{path} covers {first}..{last}; the run needs {dates[0]}..{dates[-1]}"
                    + ("" if scenario.start else " (the scenario has no start: give one)"),
                )
            )
    return found


@dataclass(frozen=True)
class MarketPath:
    """A run's market: the target price (wad) and the USD volume (or None) of each day."""

    prices: list[int]
    volumes: list[int | None]
    start: int  # wad, day 0's price (elasticities are relative to it)


def walk(scenario: Scenario, start: float) -> list[float]:
    """The geometric random walk (or its regimes) from `start`, drawn from the seed."""
    price = scenario.market.price
    assert price is not None
    if price.walk is not None:
        regimes = [(0, price.walk)]
    else:
        assert price.regimes is not None
        regimes = sorted(
            (r.day if r.day is not None else scenario.day_of(r.date), r)  # type: ignore[arg-type]
            for r in price.regimes
        )
    rng = random.Random(f"venice-sim-market:{scenario.seed}")
    step = 1 / YEAR_DAYS
    out, value, k = [start], start, 0
    for day in range(1, scenario.days):
        z = rng.gauss(0.0, 1.0)  # drawn every day: a regime change does not shift the stream
        while k + 1 < len(regimes) and regimes[k + 1][0] <= day:
            k += 1
        r = regimes[k][1]
        drift = (r.drift - r.volatility**2 / 2) * step
        value *= math.exp(drift + r.volatility * math.sqrt(step) * z)
        out.append(value)
    return out


def wad(price: float) -> int:
    """USD per VVV as a wad price, at a grain of 10**-12 USD."""
    return round(price * 10**12) * 10**6


def price_path(scenario: Scenario, pool_price: int) -> MarketPath | None:
    """The run's market, day by day; `pool_price` (wad) starts a walk without `start`."""
    price = scenario.market.price
    if price is None:
        return None
    path = csv_path(scenario)
    if path is not None:
        history = read_history(path)
        prices: list[int] = []
        volumes: list[int | None] = []
        known = sorted(history.prices)
        for date in run_dates(scenario):
            seen = max(d for d in known if d <= date)  # a skipped day keeps the last price
            prices.append(wad(history.prices[seen]))
            v = history.volumes.get(date) if history.volumes is not None else None
            volumes.append(None if v is None else round(v * 10**6))
        return MarketPath(prices, volumes, prices[0])
    start = price.start if price.start is not None else pool_price / WAD
    prices = [wad(p) for p in walk(scenario, start)]
    return MarketPath(prices, [None] * len(prices), prices[0])


# --- the arbitrage -----------------------------------------------------------------------


def pool_price(usdc: int, vvv: int) -> int:
    """The pool's spot price, wad (rounded down)."""
    return usdc * PRICE // vvv if vvv else 0


def _largest(ok: Callable[[int], bool], limit: int) -> int:
    """The largest n in [0, limit] with ok(n), for ok true at 0 and monotone (true then false)."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if ok(mid):
            low = mid
        else:
            high = mid - 1
    return low


def buy_amount(usdc: int, vvv: int, target: int, limit: int) -> int:
    """The most USDC (at most `limit`) whose swap leaves the price at or under `target`."""

    def ok(a: int) -> bool:
        out = get_amount_out(a, usdc, vvv) if a else 0
        return (usdc + a) * PRICE <= target * (vvv - out)

    return _largest(ok, limit) if ok(0) else 0


def sell_amount(usdc: int, vvv: int, target: int, limit_vvv: int, limit_usdc: int) -> int:
    """The most VVV (at most `limit_vvv`, paying at most `limit_usdc`) whose swap leaves the
    price at or above `target`."""

    def ok(b: int) -> bool:
        out = get_amount_out(b, vvv, usdc) if b else 0
        return out <= limit_usdc and (usdc - out) * PRICE >= target * (vvv + b)

    return _largest(ok, limit_vvv) if ok(0) else 0


def trade_limit(max_trade: float | None, volume_share: float | None, volume: int | None) -> int:
    """USDC base units the arbitrageur may trade today (-1: no cap)."""
    caps = []
    if max_trade is not None:
        caps.append(round(max_trade * 10**6))
    if volume_share is not None and volume is not None:
        caps.append(volume * round(volume_share * 10**6) // 10**6)
    return min(caps) if caps else -1


def arbitrage(b: Backend, trader: str, target: int, cap: int) -> tuple[str, int, int] | None:
    """The day's trade toward `target` (wad): ("buy", USDC in, VVV out) or ("sell", VVV in,
    USDC out) at the pool's quote, or None when the pool is there (or the wallet is empty)."""
    m = b.metrics()
    usdc, vvv = m["pool_usdc"], m["pool_vvv"]
    price = pool_price(usdc, vvv)
    if price < target:
        limit = b.usdc_balance(trader)
        amount = buy_amount(usdc, vvv, target, limit if cap < 0 else min(limit, cap))
        out = get_amount_out(amount, usdc, vvv) if amount else 0
        return ("buy", amount, out) if out else None
    if price > target:
        cap_usdc = usdc if cap < 0 else cap
        amount = sell_amount(usdc, vvv, target, b.vvv_balance(trader), cap_usdc)
        out = get_amount_out(amount, vvv, usdc) if amount else 0
        return ("sell", amount, out) if out else None
    return None


def diem_price_units(mint_rate: int, target: int) -> int:
    """USDC base units per DIEM when DIEM follows the market: what minting one DIEM locks
    (`mint_rate` sVVV, wei per DIEM) at the VVV price (wad); at least one base unit."""
    return max(1, mint_rate * target // WAD // 10**12)


def factor(path: MarketPath, day: int, elasticity: float) -> float:
    """How revenue and API demand follow the price: (price / day 0's) ** elasticity."""
    return float((path.prices[day] / path.start) ** elasticity)
