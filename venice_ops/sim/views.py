"""What the charts and the report draw, taken from a run: a daily DataFrame, percentile bands,
the scenario's event markers and number labels. Shared by the PNG charts (`outputs.py`) and the
HTML report (`report.py`); no drawing here.

The daily data is either the engine's rows (token amounts as integer base units) or a DataFrame
with the CSV's columns (token amounts in whole tokens: numbers, Decimals or decimal strings);
either way it becomes floats in whole tokens, shares as fractions, and `date` as a datetime.
Bands, when a Monte Carlo run gives them, are a DataFrame with, per day (a `day` column or the
index), the columns `<metric>_p5`, `<metric>_p25`, `<metric>_p50`, `<metric>_p75`,
`<metric>_p95` in the CSV's units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from venice_ops.sim.outputs import COLUMNS
from venice_ops.sim.scenario import Scenario

PERCENTILES = (5, 25, 50, 75, 95)
FRACTIONS = (
    "staking_ratio",
    "staking_apr",
    "staker_share",
    "utilization",
    "net_inflation_rate_30d",
    "net_inflation_rate_365d",
    "emission_yield_30d",
    "real_yield_30d",
)
DEFAULT_START = dt.date(2025, 1, 27)  # the engine's day 0 when a scenario gives no start
_UNITS = ("vvv", "svvv", "diem", "usdc", "usd")


def daily_frame(data: Sequence[dict[str, Any]] | pd.DataFrame, start: dt.date | None = None) -> Any:
    """The daily rows (or the CSV's DataFrame) as floats in whole tokens, `date` a datetime."""
    if isinstance(data, pd.DataFrame):
        df = data.copy()
        for column in COLUMNS:  # a frame may name a column with its unit (supply_vvv)
            if column not in df.columns:
                for unit in _UNITS:
                    for name in (f"{column}_{unit}", f"{column}_{unit.upper()}"):
                        if name in df.columns:
                            df = df.rename(columns={name: column})
        for column in df.columns:
            if column != "date":
                df[column] = pd.to_numeric(df[column].map(_number), errors="coerce")
    else:
        records = [
            {
                c: float(Decimal(int(row[c])) / 10**d) if d is not None else row[c]
                for c, d in COLUMNS.items()
                if c in row
            }
            for row in data
        ]
        df = pd.DataFrame.from_records(records)
    if "day" not in df.columns:
        df["day"] = range(len(df))
    df["day"] = df["day"].astype(int)
    if "date" in df.columns:
        df["date"] = pd.to_datetime(df["date"])
    else:
        first = pd.Timestamp(start or DEFAULT_START)
        df["date"] = [first + pd.Timedelta(days=int(d)) for d in df["day"]]
    return df.reset_index(drop=True)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal | str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return float("nan")
    return value


def bands_frame(bands: pd.DataFrame | None, days: Sequence[int]) -> Any:
    """The bands indexed by day (reindexed to the run's days), floats; None stays None."""
    if bands is None:
        return None
    df = bands.copy()
    if "day" in df.columns:
        df = df.set_index("day")
    df.index = df.index.astype(int)
    df = df.drop(columns=[c for c in ("date", "seed") if c in df.columns])
    for column in df.columns:
        df[column] = pd.to_numeric(df[column].map(_number), errors="coerce")
    return df.reindex(list(days))


def band(bands: Any, metric: str, scale: float = 1.0) -> dict[int, list[float]] | None:
    """{percentile: values per day} for `metric`, scaled; None when the bands lack it."""
    if bands is None:
        return None
    names = [f"{metric}_p{p}" for p in PERCENTILES]
    if not all(n in bands.columns for n in names):
        return None
    return {
        p: [float(v) * scale for v in bands[n]] for p, n in zip(PERCENTILES, names, strict=True)
    }


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    day: int
    label: str


def _describe(event: Any) -> str:
    actions = []
    if event.annual_rate is not None:
        actions.append(f"emissions {si(event.annual_rate)} VVV/yr")
    if event.split_curve is not None:
        retired = all(int(share) == 10_000 for _, share in event.split_curve)
        actions.append("split retired" if retired else "split curve")
    if event.mint_curve is not None:
        actions.append(f"mint curve (target {si(event.mint_curve['target'])})")
    if event.launch_mode is not None:
        actions.append(f"launch {event.launch_mode}")
    if event.tiers is not None:
        actions.append("tier prices and burns")
    text = ", ".join(actions)
    if event.note and event.note not in text:
        return f"{event.note}: {text}"
    return text


def markers(scenario: Scenario | None, days: int | None = None) -> list[Marker]:
    """The scenario's governance events and the airdrop's burn day, one marker a day."""
    if scenario is None:
        return []
    last = scenario.days if days is None else days
    by_day: dict[int, list[str]] = {}
    for event in scenario.events:
        day = scenario.event_day(event)
        if 0 <= day < last:
            by_day.setdefault(day, []).append(_describe(event))
    if scenario.airdrop is not None and scenario.airdrop.window_days + 1 < last:
        by_day.setdefault(scenario.airdrop.window_days + 1, []).append("airdrop rest burned")
    return [Marker(day, "; ".join(labels)) for day, labels in sorted(by_day.items())]


# --- labels ----------------------------------------------------------------------------------


def si(value: float) -> str:
    """101_900_000 -> '101.9M', 4972.3 -> '4.972k', 0.35 -> '0.35'."""
    size = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.4g}{suffix}"
    return f"{value:.4g}"


def label(metric: str, value: float) -> str:
    """A metric's value for a cell or a table: shares in percent, amounts with a suffix."""
    if value != value:  # NaN
        return "-"
    if metric in FRACTIONS:
        return f"{value:.1%}"
    return si(value)


def spiky(values: Sequence[float], ratio: float = 30.0) -> bool:
    """Whether a few values dwarf the rest (a launch spike): then draw on a log axis."""
    positive = sorted(v for v in values if v > 0)
    if len(positive) < 3:
        return False
    median = positive[len(positive) // 2]
    return positive[-1] > ratio * median


def net_flows(df: Any) -> tuple[list[float], list[float], list[float]]:
    """VVV emitted and burned each day, and emitted minus burned since day 0 (cumulative)."""
    emitted = [float(v) for v in df["emitted"].diff().fillna(0.0)]
    burned = [float(v) for v in df["burned"].diff().fillna(0.0)]
    base = float(df["emitted"].iloc[0] - df["burned"].iloc[0])
    net = [float(e - b) - base for e, b in zip(df["emitted"], df["burned"], strict=True)]
    return emitted, burned, net


# --- sweeps ----------------------------------------------------------------------------------


def sweep_params(sweep: pd.DataFrame) -> list[str]:
    """The varied parameters of a tidy sweep: the columns before `seed`, or, without one,
    the columns that are not metrics."""
    columns = [str(c) for c in sweep.columns]
    if "seed" in columns:
        return columns[: columns.index("seed")]
    return [c for c in columns if c not in COLUMNS]


def sweep_metrics(sweep: pd.DataFrame, params: Sequence[str]) -> list[str]:
    return [str(c) for c in sweep.columns if c not in params and c != "seed"]


def sweep_summary(sweep: pd.DataFrame, params: Sequence[str], metric: str) -> Any:
    """Per point of the grid: the metric's p5 .. p95 over the seeds, and how many runs."""
    if metric not in sweep.columns:
        raise ValueError(f"the sweep has no column {metric!r}")
    missing = [p for p in params if p not in sweep.columns]
    if missing:
        raise ValueError(f"the sweep has no column {', '.join(map(repr, missing))}")
    df = sweep[[*params, metric]].copy()
    df[metric] = pd.to_numeric(df[metric].map(_number), errors="coerce")
    grouped = df.groupby(list(params), sort=True)[metric]
    out = grouped.quantile([p / 100 for p in PERCENTILES]).unstack()
    out.columns = [f"p{p}" for p in PERCENTILES]
    out["runs"] = grouped.size()
    return out.reset_index()


def _param(value: Any) -> Any:
    """A varied value as a number where it is one (a behaviour name stays a string)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def sweep_panels(table: pd.DataFrame, rest: Sequence[str]) -> tuple[list[Any], int, int]:
    """A sweep of two or more parameters as panels: one per combination of the parameters
    after the first two (``rest``; one panel without them), as ``(key tuple, rows)``, laid out
    at most three to a row; returns (panels, columns, rows)."""
    panels = (
        [((), table)]
        if not rest
        else [
            (key if isinstance(key, tuple) else (key,), part)
            for key, part in table.groupby(list(rest), sort=True)
        ]
    )
    cols = min(3, len(panels))
    return panels, cols, (len(panels) + cols - 1) // cols


def sweep_frame(rows: Sequence[dict[str, Any]], params: Sequence[str]) -> Any:
    """The tidy sweep DataFrame from sweep rows as `sweep.sweep` returns them (token amounts in
    base units): the varied parameters, `seed` (the row's, or 0), then the metrics."""
    records = []
    for row in rows:
        if row.get("error"):  # a point that failed has no metrics
            continue
        record: dict[str, Any] = {p: _param(row[p]) for p in params}
        record["seed"] = int(row.get("seed", 0))
        for key, value in row.items():
            if key in record or key in ("refused", "error") or value is None:
                continue
            decimals = COLUMNS.get(key)
            record[key] = float(Decimal(int(value)) / 10**decimals) if decimals else float(value)
        records.append(record)
    return pd.DataFrame.from_records(records)


def has_market(df: Any) -> bool:
    """Whether the run had a market price (its column is 0 without one)."""
    return "market_price" in df.columns and bool((df["market_price"] > 0).any())


# --- the history's checkpoints ---------------------------------------------------------------


def checkpoints(data: Sequence[dict[str, Any]] | pd.DataFrame, scenario: Scenario) -> list[Any]:
    """(date, what, quoted, simulated) at each of the scenario's checkpoints (the figures
    PROTOCOL.md quotes): total supply beside the circulating supply (and its part neither
    staked nor cooling down), and annual inflation (the emission rate over total supply)."""
    df = daily_frame(data, scenario.start)
    by_date = {row["date"].strftime("%Y-%m-%d"): row for _, row in df.iterrows()}
    out: list[tuple[str, str, str, str]] = []
    for point in scenario.checkpoints:
        date = str(point["date"])
        row = by_date.get(date)
        if row is None:
            continue
        supply = float(row["supply"])
        quoted = f"{point['supply']:,.0f}" if "supply" in point else "-"
        out.append((date, "total supply (VVV)", quoted, f"{supply:,.0f}"))
        if "circulating_supply" in row:
            circulating, liquid = row["circulating_supply"], row["circulating_liquid"]
            out.append((date, "circulating supply (VVV)", "-", f"{circulating:,.0f}"))
            out.append((date, "circulating, not staked (VVV)", "-", f"{liquid:,.0f}"))
        if "inflation" in point:
            inflation = float(row["annual_rate"]) / supply if supply else 0.0
            out.append((date, "annual inflation", f"{point['inflation']:.2%}", f"{inflation:.2%}"))
    return out
