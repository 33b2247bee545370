"""Sweeps on the model backend: a grid over any scenario fields, seeds, and a tornado.

`--vary PATH=v1,v2,...` names a scenario field by its path (`market.revenue`, `agents.0.count`,
`events.2.annual_rate`, `days`), or one of four shorthands that add a day-0 event or set the
market (`ALIASES`). Values are read as YAML scalars (`1e6`, `0.25`, `compound`, `2025-03-01`).
Every combination is built and checked before any run, with the scenario file's own checks;
all the values refused are listed at once, each with its path. Points then run on Dask (or in
this process), `runs` seeds each; the last day of each run is a row of the tidy sweep CSV: one
column per varied path, the seed, the metrics, the governance events the contracts refused
(day and reason) and the error of a run that failed. `tornado` varies one path at a time
around the base scenario, to its lowest and highest value.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venice_ops.deploy.config import DeployConfig
from venice_ops.sim.distributed import run_all
from venice_ops.sim.montecarlo import percentile, run_one
from venice_ops.sim.outputs import COLUMNS, cell
from venice_ops.sim.scenario import (
    Event,
    Scenario,
    ScenarioError,
    above_cap,
    default_max_annual,
    read_yaml,
    shown,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "ALIASES",
    "METRICS",
    "Vary",
    "apply",
    "overridden",
    "parse_values",
    "parse_vary",
    "prepare",
    "sweep",
    "tornado",
    "write_sweep",
    "write_tornado",
]

ALIASES = {
    "annual_rate": "VVV a year of emissions from day 0 (a day-0 event)",
    "pro_burn": "USDC of each Pro subscription that buys VVV to burn (a day-0 tiers event)",
    "mint_target": "the mint curve's TARGET (a day-0 mint_curve event)",
    "buyback_share": "market.buyback_share: share of revenue sent to the buyback (0..1)",
}
# The event action each shorthand sets from day 0 (buyback_share is a plain field).
_ALIAS_ACTION = {"annual_rate": "annual_rate", "pro_burn": "tiers", "mint_target": "mint_curve"}
_ACTIONS = ("annual_rate", "split_curve", "mint_curve", "launch_mode", "tiers")
METRICS = (
    "supply",
    "burned",
    "staking_apr",
    "staking_ratio",
    "diem_supply",
    "treasury_vvv",
    "circulating_supply",
    "net_inflation_rate_365d",
    "real_yield_30d",
)


@dataclass(frozen=True)
class Vary:
    path: str
    values: tuple[Any, ...]


def parse_vary(text: str) -> Vary:
    """'market.revenue=1e4,2e4' -> Vary('market.revenue', (10000.0, 20000.0))."""
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ScenarioError(f"{text!r}: write PATH=v1,v2,... (e.g. market.revenue=1e4,2e4)")
    parsed: list[Any] = []
    for item in (v.strip() for v in values.split(",")):
        if not item:
            continue
        try:
            parsed.append(read_yaml(item))
        except Exception:
            raise ScenarioError(f"{path}={item}: not a value YAML can read") from None
    if not parsed:
        raise ScenarioError(f"{text!r}: give at least one value (PATH=v1,v2,...)")
    if path in _ALIAS_ACTION or path == "buyback_share":
        bad = [v for v in parsed if not isinstance(v, int | float) or isinstance(v, bool)]
        if bad:
            raise ScenarioError(f"{text!r}: values must be numbers separated by commas")
    return Vary(path, tuple(parsed))


def parse_values(text: str) -> tuple[str, list[Any]]:
    """'annual_rate=6e6,10e6' -> ('annual_rate', [6e6, 1e7])."""
    vary = parse_vary(text)
    return vary.path, list(vary.values)


def apply(scenario: Scenario, point: dict[str, Any], max_annual: int | None = None) -> Scenario:
    """`scenario` with the point's values, checked against the cap `max_annual` (wei a year,
    default `config/default.yaml`'s); `ScenarioError` names the path and the value."""
    paths = {("market.buyback_share" if k == "buyback_share" else k): v for k, v in point.items()}
    fields = {k: v for k, v in paths.items() if k not in _ALIAS_ACTION}
    varied = scenario.with_(fields, max_annual) if fields else scenario
    cap = default_max_annual() if max_annual is None else max_annual
    added: list[Event] = []
    for name, value in paths.items():
        too_high = above_cap(value, cap) if name == "annual_rate" else None
        if too_high:
            raise ScenarioError(f"annual_rate={shown(value)}: {too_high}")
        try:
            if name == "annual_rate":
                added.append(Event(day=0, annual_rate=value, note="swept annual_rate"))
            elif name == "pro_burn":
                tiers = [(18, value), (68, 5), (200, 10)]
                added.append(Event.model_validate({"day": 0, "tiers": tiers, "note": "swept"}))
            elif name == "mint_target":
                curve = {"base": 90, "power": 2, "target": value}
                added.append(Event.model_validate({"day": 0, "mint_curve": curve, "note": "swept"}))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            first = str(exc).splitlines()[-1].strip() if str(exc) else type(exc).__name__
            raise ScenarioError(f"{name}={shown(value)}: {first}") from None
    if not added:
        return varied
    # Day-0 events go first (the file's own day-0 events still follow and win).
    result = varied.with_overrides(events=[*added, *varied.events])
    result._lines = {}  # the file's event lines no longer match the indexes
    try:
        return result.check(max_annual)
    except ScenarioError as exc:
        said = ", ".join(f"{k}={shown(v)}" for k, v in point.items() if k in _ALIAS_ACTION)
        raise ScenarioError(f"{said}: {exc}") from None


def points_of(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def prepare(
    scenario: Scenario, grid: dict[str, list[Any]], max_annual: int | None = None
) -> list[tuple[dict[str, Any], Scenario]]:
    """Every point of the grid applied and checked before any run: `ScenarioError` lists every
    value refused (checked one path at a time first, so a bad value is named once)."""
    problems: list[str] = []
    for path, values in grid.items():
        for value in values:
            try:
                apply(scenario, {path: value}, max_annual)
            except ScenarioError as exc:
                problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(dict.fromkeys(problems)))
    prepared = []
    for point in points_of(grid):
        try:
            prepared.append((point, apply(scenario, point, max_annual)))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(dict.fromkeys(problems)))
    return prepared


def overridden(scenario: Scenario, grid: Iterable[str]) -> list[str]:
    """Warnings: a swept value that an event of the scenario replaces part-way."""
    warnings: list[str] = []

    def later(action: str, day: int, skip: int | None) -> list[tuple[int, int]]:
        return [
            (i, scenario.event_day(e))
            for i, e in enumerate(scenario.events)
            if i != skip and getattr(e, action) is not None and scenario.event_day(e) >= day
        ]

    for path in grid:
        parts = path.split(".")
        if path in _ALIAS_ACTION:
            action, since, skip = _ALIAS_ACTION[path], 0, None
        elif len(parts) >= 3 and parts[0] == "events" and parts[1].isdigit():
            index = int(parts[1])
            if parts[2] not in _ACTIONS or index >= len(scenario.events):
                continue
            action, skip = parts[2], index
            since = scenario.event_day(scenario.events[index])
        else:
            continue
        for i, day in later(action, since, skip):
            line = scenario._lines.get(("events", i))
            where = f"events.{i}" + (f" ({scenario._source}:{line})" if line else "")
            warnings.append(
                f"--vary {path}: {where} sets {action} on day {day}, so the swept value "
                f"holds only on days {since}-{day - 1}" + (" (not at all)" if day <= since else "")
            )
    return warnings


def run_point(scenario: Scenario, config: DeployConfig, point: dict[str, Any]) -> dict[str, Any]:
    """One run of a checked point: its last day's metrics, or the error that stopped it."""
    outcome = run_one(scenario, config)
    row: dict[str, Any] = {**point, "seed": scenario.seed}
    last = outcome.rows[-1] if outcome.rows else {}
    row.update({m: last.get(m) for m in METRICS})
    row["refused"] = "; ".join(str(e) for e in outcome.refused_events)
    row["error"] = outcome.error
    return row


def sweep(
    scenario: Scenario,
    config: DeployConfig,
    grid: dict[str, list[Any]],
    runs: int = 1,
    client: Client | None = None,
) -> list[dict[str, Any]]:
    """One row per point and seed (seed..seed+runs-1), in grid order, seeds innermost."""
    prepared = prepare(scenario, grid, config.max_annual)
    jobs = [
        (applied.with_overrides(seed=applied.seed + k), config, point)
        for point, applied in prepared
        for k in range(runs)
    ]
    return run_all(client, run_point, jobs)


def _median(values: list[Any]) -> Any:
    return percentile(sorted(values), 50) if values else None


def tornado(
    scenario: Scenario,
    config: DeployConfig,
    grid: dict[str, list[Any]],
    metric: str,
    runs: int = 1,
    client: Client | None = None,
) -> list[dict[str, Any]]:
    """One at a time around the base scenario: for each path, the median `metric` at its
    lowest and highest value, beside the base; sorted by swing, largest first."""
    ends: dict[str, tuple[Any, Any]] = {}
    for path, values in grid.items():
        numbers = all(isinstance(v, int | float) for v in values)
        ends[path] = (min(values), max(values)) if numbers else (values[0], values[-1])
    prepare(scenario, {p: list(e) for p, e in ends.items()}, config.max_annual)
    cases: list[tuple[str, dict[str, Any]]] = [("base", {})]
    for path, (low, high) in ends.items():
        cases += [(f"{path}:low", {path: low}), (f"{path}:high", {path: high})]
    jobs = []
    for label, point in cases:
        applied = apply(scenario, point, config.max_annual) if point else scenario
        jobs += [
            (applied.with_overrides(seed=applied.seed + k), config, {"case": label})
            for k in range(runs)
        ]
    results = run_all(client, run_point, jobs)
    value = {
        label: _median([r[metric] for r in results if r["case"] == label and not r["error"]])
        for label, _ in cases
    }
    rows = []
    for path, (low, high) in ends.items():
        at_low, at_high = value[f"{path}:low"], value[f"{path}:high"]
        swing = abs(float(at_high) - float(at_low)) if None not in (at_low, at_high) else 0.0
        rows.append(
            {
                "path": path,
                "low": low,
                "high": high,
                "at_low": at_low,
                "base": value["base"],
                "at_high": at_high,
                "swing": swing,
            }
        )
    return sorted(rows, key=lambda r: -r["swing"])


def _cell(value: Any, decimals: int | None) -> str:
    return "" if value is None else cell(value, decimals)


def write_sweep(rows: Iterable[dict[str, Any]], names: list[str], path: Path) -> Path:
    """The tidy CSV: one column per varied path, the seed, the metrics, refused, error."""
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*names, "seed", *METRICS, "refused", "error"])
        for row in rows:
            writer.writerow(
                [
                    *(shown(row[n]) for n in names),
                    row["seed"],
                    *(_cell(row[m], COLUMNS[m]) for m in METRICS),
                    row["refused"],
                    row["error"],
                ]
            )
    return path


def write_tornado(rows: list[dict[str, Any]], metric: str, path: Path) -> Path:
    """path, low, high, the metric at low, at the base and at high, and the swing."""
    decimals = COLUMNS[metric]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        names = ("at_low", "base", "at_high")
        writer.writerow(["path", "low", "high", *(f"{metric}_{n}" for n in names), "swing"])
        for r in rows:
            swing = int(r["swing"]) if decimals is not None else r["swing"]
            writer.writerow(
                [r["path"], shown(r["low"]), shown(r["high"])]
                + [_cell(r[k], decimals) for k in ("at_low", "base", "at_high")]
                + [_cell(swing, decimals)]
            )
    return path
