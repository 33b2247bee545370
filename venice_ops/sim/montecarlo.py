"""Monte Carlo: one scenario over seeds s..s+N-1, and the per-day percentile bands.

Each run is `run_one` (the model backend, in whatever process Dask gives it) and comes back
as an `Outcome`: its daily rows, what the contracts refused, and an error instead of rows when
it failed. `bands` takes the 5th, 25th, 50th, 75th and 95th percentile of every numeric column
on each day, by nearest rank, so a band is always a value some run had (token amounts stay
exact integers); `write_bands` writes them as `<scenario>-bands.csv`, and `bands_table` is the
summary: the last day's median and its 5-95% range.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from venice_ops.deploy.config import DeployConfig
from venice_ops.sim.distributed import run_all
from venice_ops.sim.engine import Engine, RefusedEvent, Run, model_backend
from venice_ops.sim.metrics import runway_text
from venice_ops.sim.outputs import COLUMNS, cell
from venice_ops.sim.scenario import Scenario
from venice_sdk.units import format_units

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "NUMERIC",
    "PERCENTILES",
    "Outcome",
    "bands",
    "bands_in_tokens",
    "bands_table",
    "outcome_of",
    "percentile",
    "run_one",
    "run_seeds",
    "write_bands",
    "write_runs",
]

PERCENTILES = (5, 25, 50, 75, 95)
NUMERIC = tuple(c for c in COLUMNS if c not in ("day", "date"))


@dataclass
class Outcome:
    """One run, as light as it travels between processes: rows, refusals, an error."""

    scenario: str
    seed: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    refused_events: list[RefusedEvent] = field(default_factory=list)
    transactions: int = 0
    agents: int = 0
    elapsed: float = 0.0
    backend: str = "model"
    error: str = ""  # why the run did not finish; no rows then


def outcome_of(run: Run, elapsed: float) -> Outcome:
    return Outcome(
        scenario=run.scenario.name,
        seed=run.scenario.seed,
        rows=run.rows,
        failures=run.failures,
        refused_events=run.refused_events,
        transactions=run.backend.transactions,
        agents=len(run.agents),
        elapsed=elapsed,
        backend=run.backend.name,
    )


def run_one(scenario: Scenario, config: DeployConfig) -> Outcome:
    """Run `scenario` on the model backend; an error becomes the outcome's `error`."""
    started = time.perf_counter()
    try:
        engine = Engine(scenario, model_backend(scenario, config), config)
        run = engine.run(engine.setup())
    except Exception as exc:  # reported with the run, never lost in a worker
        return Outcome(scenario.name, scenario.seed, error=f"{type(exc).__name__}: {exc}")
    return outcome_of(run, time.perf_counter() - started)


def run_seeds(
    scenario: Scenario, config: DeployConfig, runs: int = 1, client: Client | None = None
) -> list[Outcome]:
    """`runs` runs of `scenario` with seeds seed..seed+runs-1, on `client` (or here)."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    jobs = [(scenario.with_overrides(seed=scenario.seed + k), config) for k in range(runs)]
    return run_all(client, run_one, jobs)


def percentile(ordered: list[Any], p: float) -> Any:
    """The nearest-rank percentile `p` (0-100) of sorted values: one of the values."""
    return ordered[int(p * (len(ordered) - 1) / 100 + 0.5)]


def bands(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per day: day, date, runs, and `<column>_p<P>` for each numeric column and percentile."""
    done = [o for o in outcomes if not o.error]
    if not done:
        return []
    out: list[dict[str, Any]] = []
    for day, first in enumerate(done[0].rows):
        row: dict[str, Any] = {"day": first["day"], "date": first["date"], "runs": len(done)}
        for column in NUMERIC:
            ordered = sorted(o.rows[day][column] for o in done)
            for p in PERCENTILES:
                row[f"{column}_p{p}"] = percentile(ordered, p)
        out.append(row)
    return out


def bands_in_tokens(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """The bands as the charts and the report take them, in the CSV's units: token amounts in
    whole tokens (floats), not base units."""
    out = bands(outcomes)
    for row in out:
        for column in NUMERIC:
            decimals = COLUMNS[column]
            if decimals is None:
                continue
            for p in PERCENTILES:
                key = f"{column}_p{p}"
                row[key] = float(Decimal(row[key]).scaleb(-decimals))
    return out


def write_bands(outcomes: list[Outcome], path: Path) -> Path:
    """`<scenario>-bands.csv`: day, date, runs, then `<column>_p5 ... _p95` per column,
    token amounts as exact decimals of whole tokens as in the daily CSV."""
    rows = bands(outcomes)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["day", "date", "runs"] + [f"{c}_p{p}" for c in NUMERIC for p in PERCENTILES]
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(
                [row["day"], row["date"], row["runs"]]
                + [cell(row[f"{c}_p{p}"], COLUMNS[c]) for c in NUMERIC for p in PERCENTILES]
            )
    return path


def write_runs(outcomes: list[Outcome], path: Path) -> Path:
    """`<scenario>-runs.csv`: every run's daily rows, with its seed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["seed", *COLUMNS])
        for o in outcomes:
            for row in o.rows:
                writer.writerow([o.seed, *(cell(row[c], d) for c, d in COLUMNS.items())])
    return path


_SUMMARY: tuple[tuple[str, str], ...] = (
    ("supply", "tokens"),
    ("circulating_supply", "tokens"),
    ("circulating_liquid", "tokens"),
    ("burned", "tokens"),
    ("emitted", "tokens"),
    ("net_inflation_30d", "tokens"),
    ("net_inflation_365d", "tokens"),
    ("net_inflation_rate_365d", "{:.2%}"),
    ("emission_yield_30d", "{:.2%}"),
    ("real_yield_30d", "{:.2%}"),
    ("staked", "tokens"),
    ("treasury_vvv", "tokens"),
    ("treasury_usdc", "usdc"),
    ("treasury_value", "usdc"),
    ("treasury_runway_days", "runway"),
    ("diem_supply", "diem"),
    ("staking_ratio", "{:.2%}"),
    ("staking_apr", "{:.2%}"),
    ("vvv_price", "${:.4f}"),
    ("subscribers", "{}"),
    ("transactions", "{:,}"),
)


def _shown(value: Any, how: str) -> str:
    if how == "tokens":
        return format_units(int(value), 18, 0)
    if how == "diem":
        return format_units(int(value), 18, 2)
    if how == "usdc":
        return format_units(int(value), 6, 0)
    if how == "runway":
        return runway_text(float(value))
    return how.format(value)


def bands_table(outcomes: list[Outcome], elapsed: float) -> Table:
    """The last day across the runs: median and the 5-95% range of each key figure."""
    done = [o for o in outcomes if not o.error]
    seeds = [o.seed for o in outcomes]
    name = outcomes[0].scenario if outcomes else "?"
    last = bands(done)[-1] if done else {}
    table = Table(
        title=f"{name}: {len(outcomes)} runs (seeds {seeds[0]}..{seeds[-1]}), "
        f"day {last.get('day', '?')}"
    )
    table.add_column("")
    table.add_column("median", justify="right")
    table.add_column("5% - 95%", justify="right")
    for key, how in _SUMMARY if last else ():
        table.add_row(
            key.replace("_", " "),
            _shown(last[f"{key}_p50"], how),
            f"{_shown(last[f'{key}_p5'], how)} - {_shown(last[f'{key}_p95'], how)}",
        )
    failed = len(outcomes) - len(done)
    table.caption = (
        f"{len(done)} runs done, {failed} failed; "
        f"{sum(o.transactions for o in done):,} transactions in {elapsed:.1f} s "
        f"({len(outcomes) / elapsed if elapsed else 0:.1f} runs/s)"
    )
    return table
