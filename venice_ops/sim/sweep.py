"""Policy sweeps on the model backend, across processes.

A grid of parameters (emission rate, burn per Pro subscription, mint-curve target, buyback
share) is applied to a scenario as day-0 governance events or market settings; each point runs
in a worker process, and the final day of each run becomes a row of the sweep's CSV. A heatmap
shows one metric over the first two parameters.
"""

from __future__ import annotations

import csv
import itertools
import multiprocessing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from venice_ops.deploy.config import DeployConfig
from venice_ops.sim.engine import Engine, model_backend
from venice_ops.sim.outputs import COLUMNS, cell
from venice_ops.sim.scenario import Event, Scenario, ScenarioError

PARAMETERS = {
    "annual_rate": "VVV a year of emissions from day 0",
    "pro_burn": "USDC of each Pro subscription that buys VVV to burn",
    "mint_target": "the mint curve's TARGET (DIEM supply where the rate is BASE * e^POWER)",
    "buyback_share": "share of revenue sent to the buyback (0..1)",
}
METRICS = ("supply", "burned", "staking_apr", "staking_ratio", "diem_supply", "treasury_vvv")


def parse_values(text: str) -> tuple[str, list[float]]:
    """'annual_rate=6e6,10e6,14e6' -> ('annual_rate', [6e6, 1e7, 1.4e7])."""
    name, _, values = text.partition("=")
    name = name.strip()
    if name not in PARAMETERS:
        raise ScenarioError(
            f"cannot sweep {name!r}: choose from {', '.join(PARAMETERS)} (NAME=v1,v2,...)"
        )
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ScenarioError(f"{text!r}: values must be numbers separated by commas") from None
    if not numbers:
        raise ScenarioError(f"{text!r}: give at least one value (NAME=v1,v2,...)")
    return name, numbers


def apply(scenario: Scenario, point: dict[str, float]) -> Scenario:
    events = list(scenario.events)
    market = scenario.market
    for name, value in point.items():
        if name == "annual_rate":
            events.insert(0, Event(day=0, annual_rate=value))
        elif name == "pro_burn":
            events.insert(0, Event(day=0, tiers=[(18, value), (68, 5), (200, 10)]))
        elif name == "mint_target":
            events.insert(0, Event(day=0, mint_curve={"base": 90, "power": 2, "target": value}))
        elif name == "buyback_share":
            market = market.model_copy(update={"buyback_share": value})
    return scenario.with_overrides(events=events, market=market)


def run_point(args: tuple[Scenario, DeployConfig, dict[str, float]]) -> dict[str, Any]:
    scenario, config, point = args
    scenario = apply(scenario, point)
    engine = Engine(scenario, model_backend(scenario, config), config)
    run = engine.run(engine.setup())
    last = run.rows[-1]
    return {**point, **{m: last[m] for m in METRICS}}


def sweep(
    scenario: Scenario,
    config: DeployConfig,
    grid: dict[str, list[float]],
    workers: int,
) -> list[dict[str, Any]]:
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    jobs = [(scenario, config, p) for p in points]
    if workers <= 1:
        return [run_point(j) for j in jobs]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return list(pool.imap(run_point, jobs))


def write_sweep(rows: Iterable[dict[str, Any]], names: list[str], path: Path) -> Path:
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*names, *METRICS])
        for row in rows:
            writer.writerow(
                [*(row[n] for n in names), *(cell(row[m], COLUMNS[m]) for m in METRICS)]
            )
    return path


def heatmap(rows: list[dict[str, Any]], x: str, y: str, metric: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = sorted({r[x] for r in rows})
    ys = sorted({r[y] for r in rows})
    scale = 10**18 if COLUMNS.get(metric) == 18 else 1
    grid = [[0.0] * len(xs) for _ in ys]
    for r in rows:  # with more than two parameters, the last row of a cell wins
        grid[ys.index(r[y])][xs.index(r[x])] = float(r[metric]) / scale
    fig, ax = plt.subplots(figsize=(8, 5.5))
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:,.4g}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image, label=metric)
    ax.set_title(f"final {metric} by {x} and {y}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
