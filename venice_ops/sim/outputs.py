"""What a run leaves behind: the daily CSV, four PNG charts and a summary table.

Token amounts in the CSV are exact decimal strings of whole tokens (VVV, DIEM 18 decimals;
USDC 6); shares and rates are fractions. The same scenario and seed give byte-identical files:
the charts carry no timestamp (matplotlib's metadata is pinned).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from venice_sdk.units import format_units

# column -> decimals of its token (None: a plain number)
COLUMNS: dict[str, int | None] = {
    "day": None,
    "date": None,
    "supply": 18,
    "burned": 18,
    "emitted": 18,
    "staked": 18,
    "locked": 18,
    "staking_ratio": None,
    "staking_apr": None,
    "annual_rate": 18,
    "staker_share": None,
    "diem_supply": 18,
    "mint_rate": 18,
    "diem_credit": 18,
    "api_credit": 18,
    "treasury_vvv": 18,
    "treasury_usdc": 6,
    "utilization": None,
    "revenue": 6,
    "subscribers": None,
    "buyback_burned": 18,
    "vvv_price": None,
    "transactions": None,
}


def exact(amount: int, decimals: int) -> str:
    """Base units as an exact decimal string of whole tokens (no separators, no rounding)."""
    whole, frac = divmod(amount, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")


def cell(value: Any, decimals: int | None) -> str:
    if decimals is not None:
        return exact(int(value), decimals)
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(cell(row[c], d) for c, d in COLUMNS.items())
    return path


def _tokens(rows: list[dict[str, Any]], key: str, decimals: int = 18) -> list[float]:
    return [float(Decimal(r[key]) / 10**decimals) for r in rows]


def write_charts(rows: list[dict[str, Any]], directory: Path, title: str) -> list[Path]:
    """supply_and_burn.png, apr_and_staking.png, diem_curve.png, treasury.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from venice_sdk.model.curve import UNIT, MintCurveModel, default_rates

    directory.mkdir(parents=True, exist_ok=True)
    days = [r["day"] for r in rows]
    meta = {"Software": None}  # no version or date in the file: same run, same bytes
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=100, metadata=meta)
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(days, [v / 1e6 for v in _tokens(rows, "supply")], label="supply")
    ax.set_ylabel("VVV supply (millions)")
    ax2 = ax.twinx()
    ax2.plot(days, [v / 1e6 for v in _tokens(rows, "burned")], color="tab:red", label="burned")
    ax2.set_ylabel("VVV burned (millions)", color="tab:red")
    ax.set_xlabel("day")
    ax.set_title(f"{title}: supply and burn")
    save(fig, "supply_and_burn.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(days, [r["staking_apr"] * 100 for r in rows], label="staking APR")
    ax.set_ylabel("staking APR (%)")
    ax2 = ax.twinx()
    ax2.plot(days, [r["staking_ratio"] * 100 for r in rows], color="tab:green")
    ax2.set_ylabel("staked / supply (%)", color="tab:green")
    ax.set_xlabel("day")
    ax.set_title(f"{title}: APR and staking ratio")
    save(fig, "apr_and_staking.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    curve = MintCurveModel(default_rates())
    supply = _tokens(rows, "diem_supply")
    top = max(max(supply, default=0) * 1.5, 45_000.0)
    grid = [top * i / 200 for i in range(201)]
    ax.plot(grid, [curve.rate_at(int(s * UNIT)) / UNIT for s in grid], color="gray", label="curve")
    ax.scatter(supply, [float(Decimal(r["mint_rate"]) / UNIT) for r in rows], s=10, label="run")
    ax.set_xlabel("DIEM supply")
    ax.set_ylabel("sVVV per DIEM (marginal)")
    ax.legend()
    ax.set_title(f"{title}: DIEM supply on the mint curve")
    save(fig, "diem_curve.png")

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(days, [v / 1e6 for v in _tokens(rows, "treasury_vvv")], label="VVV")
    ax.set_ylabel("treasury VVV (millions)")
    ax2 = ax.twinx()
    ax2.plot(days, [v / 1e3 for v in _tokens(rows, "treasury_usdc", 6)], color="tab:orange")
    ax2.set_ylabel("treasury USDC (thousands)", color="tab:orange")
    ax.set_xlabel("day")
    ax.set_title(f"{title}: treasury")
    save(fig, "treasury.png")
    return paths


def summary_table(run: Any, elapsed: float) -> Table:
    first, last = run.rows[0], run.rows[-1]
    table = Table(title=f"{run.scenario.name}: {len(run.rows)} days on the {run.backend.name}")
    table.add_column("")
    table.add_column("day 0", justify="right")
    table.add_column(f"day {last['day']}", justify="right")

    def tokens(key: str, decimals: int = 18, places: int = 0) -> None:
        table.add_row(
            key.replace("_", " "),
            format_units(first[key], decimals, places),
            format_units(last[key], decimals, places),
        )

    for key in ("supply", "burned", "emitted", "staked", "locked", "treasury_vvv"):
        tokens(key)
    tokens("treasury_usdc", 6)
    tokens("diem_supply", 18, 2)
    tokens("diem_credit", 18, 2)
    for key, fmt in (
        ("staking_ratio", "{:.2%}"),
        ("staking_apr", "{:.2%}"),
        ("vvv_price", "${:.4f}"),
    ):
        table.add_row(key.replace("_", " "), fmt.format(first[key]), fmt.format(last[key]))
    table.add_row("subscribers", str(first["subscribers"]), str(last["subscribers"]))
    table.caption = (
        f"{len(run.agents)} agents, {run.backend.transactions:,} transactions "
        f"({sum(run.failures.values())} refused by the contracts), {elapsed:.1f} s"
    )
    return table


def print_summary(run: Any, elapsed: float, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(run, elapsed))
    if run.failures:
        console.print("Refused (the contracts said no; the run went on):")
        for reason, n in run.failures.most_common(8):
            console.print(f"  {n:>5} x {reason}")
