"""The tokenomics simulator.

    ape run simulate run showcase                     # model backend: fast, pure Python
    ape run simulate run showcase --backend chain     # the real contracts on a local Anvil
    ape run simulate history                          # the real history beside PROTOCOL.md
    ape run simulate sweep showcase --vary annual_rate=6e6,10e6,14e6 --vary pro_burn=2,4,8

SCENARIO is a YAML file or the name of one in `scenarios/`. Each run writes a daily CSV and
four charts under --out (default `sim-out/`) and prints a summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from venice_ops.commands.common import common_options
from venice_ops.deploy.config import load_config
from venice_ops.sim.outputs import print_summary
from venice_ops.sim.runner import OUT, chain_backend, execute, execute_model
from venice_ops.sim.scenario import ScenarioError, load_scenario
from venice_ops.sim.sweep import METRICS, PARAMETERS, heatmap, parse_values, sweep, write_sweep

console = Console(width=120)


def _scenario(name: str, days: int | None, seed: int | None):  # type: ignore[no-untyped-def]
    scenario = load_scenario(name)
    changes = {k: v for k, v in (("days", days), ("seed", seed)) if v is not None}
    return scenario.with_overrides(**changes) if changes else scenario


@click.group()
def cli() -> None:
    """Simulate the token economy on the model or on the real contracts."""


@cli.command()
@click.argument("scenario")
@click.option(
    "--backend", type=click.Choice(["model", "chain"]), default="model", show_default=True
)
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Override the length.")
@click.option("--seed", type=int, default=None, help="Override the RNG seed.")
@click.option(
    "--config", "config_path", default=None, help="Deploy config (default: config/default.yaml)."
)
@common_options(account=False, deployments=False)
def run(
    scenario: str,
    backend: str,
    out: Path,
    days: int | None,
    seed: int | None,
    config_path: str | None,
) -> None:
    """Run SCENARIO and write its CSV and charts."""
    try:
        sc = _scenario(scenario, days, seed)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    config = load_config(config_path)
    if backend == "model":
        result = execute_model(sc, config, out=out, console=console)
    else:
        from ape import accounts, networks

        with networks.ethereum.local.use_provider("foundry"):
            b = chain_backend(config, accounts.test_accounts[0])
            result = execute(sc, b, config, out=out, console=console)
    print_summary(result.run, result.elapsed, console)
    console.print(f"{result.tx_per_second:,.0f} transactions/s on the {backend}")
    for path in result.files:
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
    console.print(checkpoint_table(result.run))
    for path in result.files:
        console.print(f"wrote {path}")


def checkpoint_table(run) -> Table:  # type: ignore[no-untyped-def]
    """Supply and annual inflation at the dates PROTOCOL.md quotes, beside its figures."""
    table = Table(title="The simulated history beside the figures PROTOCOL.md quotes")
    for column in ("date", "what", "quoted", "simulated"):
        table.add_column(column, justify="left" if column in ("date", "what") else "right")
    by_date = {row["date"]: row for row in run.rows}
    for point in run.scenario.checkpoints:
        date = str(point["date"])
        row = by_date.get(date)
        if row is None:
            continue
        supply = row["supply"] / 10**18
        inflation = row["annual_rate"] / 10**18 / supply
        if "supply" in point:
            table.add_row(date, "supply (VVV)", f"{point['supply']:,.0f}", f"{supply:,.0f}")
        if "inflation" in point:
            table.add_row(date, "annual inflation", f"{point['inflation']:.2%}", f"{inflation:.2%}")
    return table


@cli.command("sweep")
@click.argument("scenario")
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    help="NAME=v1,v2,... (" + ", ".join(PARAMETERS) + ")",
)
@click.option("--metric", type=click.Choice(METRICS), default="supply", show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
@common_options(account=False, deployments=False)
def sweep_command(
    scenario: str, vary: tuple[str, ...], metric: str, workers: int, days: int | None, out: Path
) -> None:
    """Run SCENARIO on the model over a grid of policies; write a CSV and a heatmap."""
    try:
        sc = _scenario(scenario, days, None)
        grid = dict(parse_values(v) for v in vary)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    names = list(grid)
    points = 1
    for values in grid.values():
        points *= len(values)
    console.print(
        f"{points} runs of {sc.name} ({sc.days} days, {sc.agent_count} agents) "
        f"on {workers} processes"
    )
    started = time.perf_counter()
    rows = sweep(sc, load_config(), grid, workers)
    elapsed = time.perf_counter() - started
    stamp = "-".join(names)
    csv_path = write_sweep(rows, names, out / f"sweep-{sc.name}-{stamp}.csv")
    console.print(f"{points} runs in {elapsed:.1f} s; wrote {csv_path}")
    if len(names) >= 2:
        png = heatmap(rows, names[0], names[1], metric, out / f"sweep-{sc.name}-{stamp}.png")
        console.print(f"wrote {png}")
