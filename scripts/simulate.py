"""The tokenomics simulator.

    ape run simulate run showcase                     # model backend: fast, pure Python
    ape run simulate run showcase --runs 100          # Monte Carlo: seeds 7..106 on Dask
    ape run simulate run showcase --backend chain     # the real contracts on a local Anvil
    ape run simulate run market --runs 20             # a VVV price process, arbitrage on the pool
    ape run simulate run showcase --backend revm      # the same, the days in-process (faster)
    ape run simulate history                          # the real history beside PROTOCOL.md
    ape run simulate sweep showcase --vary market.revenue=1e4,4e4 --vary agents.1.count=3,12

SCENARIO is a YAML file or the name of one in `scenarios/`. Each run writes a daily CSV, seven
charts and `<scenario>/report.html` under --out (default `sim-out/`) and prints a summary;
`--runs N` adds the daily percentile bands (`<scenario>-bands.csv`) and every run's rows
(`<scenario>-runs.csv`). Runs and sweeps go to Dask: a LocalCluster of `--workers` processes,
or `--scheduler tcp://...`.
This file is a thin layer over `venice_ops.sim` (`Scenario`, `simulate` and friends).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from venice_ops.commands.common import common_options
from venice_ops.deploy.config import DeployConfig, load_config
from venice_ops.sim import views
from venice_ops.sim.api import outcomes
from venice_ops.sim.distributed import cluster
from venice_ops.sim.montecarlo import (
    Outcome,
    bands_in_tokens,
    bands_table,
    write_bands,
    write_runs,
)
from venice_ops.sim.outputs import print_summary, sweep_chart, write_charts, write_csv
from venice_ops.sim.report import write_report, write_sweep_report
from venice_ops.sim.runner import OUT, chain_backend, execute, execute_model
from venice_ops.sim.scenario import Scenario, ScenarioError, load_scenario, shown
from venice_ops.sim.sweep import (
    ALIASES,
    METRICS,
    overridden,
    parse_vary,
    prepare,
    sweep,
    tornado,
    write_sweep,
    write_tornado,
)
from venice_ops.sim.views import sweep_frame

console = Console(width=120, soft_wrap=True)  # messages stay on one line, to grep


def _scenario(name: str, days: int | None, seed: int | None, config: DeployConfig) -> Scenario:
    """The scenario, checked against the config's cap; --days cuts events after the end."""
    scenario = load_scenario(name, config.max_annual)
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if days is not None:
        changes["days"] = days
        kept = [e for e in scenario.events if scenario.event_day(e) < days]
        for i, event in enumerate(scenario.events):
            if event not in kept:
                console.print(
                    f"[yellow]--days {days}: events.{i} (day {scenario.event_day(event)}) "
                    "falls after the last day and is left out[/yellow]"
                )
        changes["events"] = kept
    return scenario.with_overrides(**changes).check(config.max_annual) if changes else scenario


@contextmanager
def _client(workers: int, scheduler: str | None, needed: bool) -> Iterator[Any]:
    """A Dask client when there is more than one job (or a scheduler is named), else None."""
    if not needed and scheduler is None:
        yield None
        return
    where = scheduler or f"a LocalCluster of {workers} worker processes"
    console.print(f"on Dask: {where}")
    with cluster(workers, scheduler) as client:
        yield client


def _refused(results: list[Outcome]) -> None:
    """Every governance event refused, with its day and reason, and in how many runs."""
    seen = Counter(str(e) for o in results for e in o.refused_events)
    if seen:
        console.print("[red]Governance events the contracts refused:[/red]")
        for text, n in seen.items():
            runs = f" (in {n} of {len(results)} runs)" if len(results) > 1 else ""
            console.print(f"  {text}{runs}")


WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Dask LocalCluster worker processes.",
)
SCHEDULER = click.option(
    "--scheduler", default=None, help="An existing Dask scheduler (tcp://host:8786)."
)
RUNS = click.option(
    "--runs",
    type=click.IntRange(1, 100_000),
    default=1,
    show_default=True,
    help="Monte Carlo: seeds SEED..SEED+RUNS-1.",
)
CONFIG = click.option(
    "--config", "config_path", default=None, help="Deploy config (default: config/default.yaml)."
)


@click.group()
def cli() -> None:
    """Simulate the token economy on the model or on the real contracts."""


@cli.command()
@click.argument("scenario")
@click.option(
    "--backend",
    type=click.Choice(["model", "chain", "revm"]),
    default="model",
    show_default=True,
    help="model: pure Python; chain: the contracts on Anvil; revm: the same, run in-process.",
)
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Override the length.")
@click.option("--seed", type=int, default=None, help="Override the RNG seed.")
@RUNS
@WORKERS
@SCHEDULER
@CONFIG
@common_options(account=False, deployments=False)
def run(
    scenario: str,
    backend: str,
    out: Path,
    days: int | None,
    seed: int | None,
    runs: int,
    workers: int,
    scheduler: str | None,
    config_path: str | None,
) -> None:
    """Run SCENARIO (RUNS seeds) and write its CSV, bands and charts."""
    config = load_config(config_path)
    try:
        sc = _scenario(scenario, days, seed, config)
        if runs > 1 and backend != "model":
            raise ScenarioError("--runs above 1 needs the model backend")
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    if runs == 1 and scheduler is None:  # one run here, with a progress bar, as always
        if backend == "model":
            result = execute_model(sc, config, out=out, console=console)
        else:
            from ape import accounts, networks

            with networks.ethereum.local.use_provider("foundry"):
                b = chain_backend(config, accounts.test_accounts[0], scenario=sc, kind=backend)
                result = execute(sc, b, config, out=out, console=console)
        print_summary(result.run, result.elapsed, console)
        print_assumptions(sc)
        console.print(f"{result.tx_per_second:,.0f} transactions/s on the {backend}")
        _refused([Outcome(sc.name, sc.seed, refused_events=result.run.refused_events)])
        for path in result.files:
            console.print(f"wrote {path}")
        return
    console.print(f"{runs} runs of {sc.name} (seeds {sc.seed}..{sc.seed + runs - 1})")
    started = time.perf_counter()
    with _client(workers, scheduler, needed=True) as client:
        results = outcomes(sc, runs, "model", client, config)
    elapsed = time.perf_counter() - started
    console.print(bands_table(results, elapsed))
    print_assumptions(sc)
    for o in results:
        if o.error:
            console.print(f"[red]seed {o.seed} failed: {o.error}[/red]")
    _refused(results)
    done = [o for o in results if not o.error]
    if done:
        first = done[0]
        import pandas as pd

        band_frame = pd.DataFrame(bands_in_tokens(results))
        files = [
            write_csv(first.rows, out / f"{sc.name}.csv"),
            *write_charts(
                first.rows, out / f"{sc.name}-charts", sc.name, scenario=sc, bands=band_frame
            ),
            write_report(first.rows, out / sc.name / "report.html", sc, bands=band_frame),
            write_bands(results, out / f"{sc.name}-bands.csv"),
            write_runs(results, out / f"{sc.name}-runs.csv"),
        ]
        console.print(f"{sc.name}.csv and the charts are seed {first.seed}'s run")
        for path in files:
            console.print(f"wrote {path}")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
@common_options(account=False, deployments=False)
def history(out: Path) -> None:
    """Replay the real history (scenarios/history.yaml) and compare with PROTOCOL.md."""
    sc = load_scenario("history")
    config = load_config()
    result = execute_model(sc, config, out=out, console=console)
    print_summary(result.run, result.elapsed, console)
    _refused([Outcome(sc.name, sc.seed, refused_events=result.run.refused_events)])
    console.print(checkpoint_table(result.run))
    print_assumptions(sc)
    for path in result.files:
        console.print(f"wrote {path}")


def checkpoint_table(run) -> Table:  # type: ignore[no-untyped-def]
    """Total and circulating supply and annual inflation at the dates PROTOCOL.md quotes,
    beside its figures."""
    table = Table(title="The simulated history beside the figures PROTOCOL.md quotes")
    for column in ("date", "what", "quoted", "simulated"):
        table.add_column(column, justify="left" if column in ("date", "what") else "right")
    for cells in views.checkpoints(run.rows, run.scenario):
        table.add_row(*cells)
    return table


def print_assumptions(scenario: Scenario) -> None:
    """What the scenario assumes (a date the record does not give), stated with its results."""
    for text in scenario.assumptions:
        console.print(f"Assumption: {text}")


@cli.command("sweep")
@click.argument("scenario")
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    help="PATH=v1,v2,...: any scenario field by its path (market.revenue, agents.0.count, "
    "events.2.annual_rate), or " + ", ".join(ALIASES),
)
@click.option("--metric", type=click.Choice(METRICS), default="supply", show_default=True)
@click.option("--tornado", "with_tornado", is_flag=True, help="One-at-a-time sensitivity too.")
@RUNS
@click.option("--seed", type=int, default=None, help="Override the first seed.")
@WORKERS
@SCHEDULER
@click.option("--days", type=click.IntRange(1, 3650), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
@CONFIG
@common_options(account=False, deployments=False)
def sweep_command(
    scenario: str,
    vary: tuple[str, ...],
    metric: str,
    with_tornado: bool,
    runs: int,
    seed: int | None,
    workers: int,
    scheduler: str | None,
    days: int | None,
    out: Path,
    config_path: str | None,
) -> None:
    """Run SCENARIO on the model over a grid of any fields; write a tidy CSV, a chart and a
    page of the metric (and with --tornado a one-at-a-time sensitivity table)."""
    config = load_config(config_path)
    try:
        sc = _scenario(scenario, days, seed, config)
        grid: dict[str, list[Any]] = {}
        for text in vary:
            v = parse_vary(text)
            if v.path in grid:
                raise ScenarioError(f"--vary {v.path} is given twice: give its values once")
            grid[v.path] = list(v.values)
        prepare(sc, grid, config.max_annual)  # every value checked before any run
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in overridden(sc, grid):
        console.print(f"[yellow]warning: {warning}[/yellow]")
    names = list(grid)
    points = 1
    for values in grid.values():
        points *= len(values)
    console.print(
        f"{points} points x {runs} seeds of {sc.name} ({sc.days} days, {sc.agent_count} agents)"
    )
    started = time.perf_counter()
    with _client(workers, scheduler, needed=points * runs > 1 and workers > 1) as client:
        rows = sweep(sc, config, grid, runs, client)
        tornado_rows = tornado(sc, config, grid, metric, runs, client) if with_tornado else []
    elapsed = time.perf_counter() - started
    stamp = "-".join(names)
    csv_path = write_sweep(rows, names, out / f"sweep-{sc.name}-{stamp}.csv")
    console.print(f"{len(rows)} runs in {elapsed:.1f} s; wrote {csv_path}")
    for row in rows:
        point = ", ".join(f"{n}={row[n]}" for n in names)
        if row["error"]:
            console.print(f"[red]failed: {point} seed {row['seed']}: {row['error']}[/red]")
        if row["refused"]:
            console.print(f"[red]refused at {point} seed {row['seed']}: {row['refused']}[/red]")
    frame = sweep_frame(rows, names)
    title = f"{sc.name}: {metric} over {', '.join(names)}"
    if frame.empty:
        console.print("[red]every point failed: no chart[/red]")
    else:
        png = sweep_chart(frame, out / f"sweep-{sc.name}-{stamp}.png", metric, names, title)
        page = write_sweep_report(frame, out / f"sweep-{sc.name}-{stamp}.html", title, names)
        if len(names) == 1:
            how = f"a line over {names[0]}" + (" with its seeds' band" if runs > 1 else "")
        elif len(names) == 2:
            how = f"a heatmap of {names[0]} by {names[1]}"
        else:
            how = f"small multiples: {names[0]} by {names[1]}, one per value of the others"
        console.print(f"wrote {png} and {page}: {metric} as {how}")
    if with_tornado:
        path = write_tornado(tornado_rows, metric, out / f"tornado-{sc.name}-{metric}.csv")
        table = Table(title=f"{metric}: one at a time around {sc.name}")
        for column in ("path", "low", "high", "at low", "base", "at high"):
            table.add_column(column, justify="left" if column == "path" else "right")
        for r in tornado_rows:
            table.add_row(
                r["path"],
                shown(r["low"]),
                shown(r["high"]),
                *(_metric(r[k], metric) for k in ("at_low", "base", "at_high")),
            )
        console.print(table)
        console.print(f"wrote {path}")


def _metric(value: Any, metric: str) -> str:
    from venice_ops.sim.outputs import COLUMNS, cell

    if value is None:
        return "failed"
    decimals = COLUMNS[metric]
    if decimals is None:
        return f"{value:.4g}"
    amount = float(cell(value, decimals))
    return f"{amount:,.0f}" if abs(amount) >= 10_000 else f"{amount:,.4f}"
