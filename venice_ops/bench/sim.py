"""Simulator benchmark: the model backend at scale, the chain backend, and their ratio.

    ape run bench_sim

1. Model: `scenarios/bench.yaml` scaled to 10,000 agents for 365 days (target <= 60 s).
2. Model on the same scenario as written (100 agents, 90 days).
3. Chain against revm: `--chain-agents` x `--chain-days` of that scenario, `--chain-repeats`
   times on each, every run on a fresh deployment: the median transactions per second of
   the chain backend (every action a transaction on Anvil through web3) and of the revm
   backend (the same state run in-process), their ratio (target >= 10x) and whether every
   run gave the same daily rows; and the model/chain ratio on that scenario.
4. Monte Carlo: `--mc-runs` runs (default 100 seeds) of the showcase on the model over a Dask
   LocalCluster of `--workers` processes, with their daily percentile bands, in runs per
   second with the cluster's start and without it (`monte_carlo`, tested at a tiny size in
   tests/sim/test_bench.py).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from statistics import median
from typing import TYPE_CHECKING, Any

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from venice_ops.deploy.config import DeployConfig, load_config
from venice_ops.sim.distributed import cluster
from venice_ops.sim.montecarlo import bands, run_seeds
from venice_ops.sim.runner import chain_backend, execute, execute_model
from venice_ops.sim.scenario import Distribution, Scenario, load_scenario

if TYPE_CHECKING:
    from distributed import Client

console = Console(width=120)


def shrink(dist: Distribution, factor: float) -> Distribution:
    """The same distribution with amounts divided by `factor`."""
    if dist.uniform is not None:
        return Distribution(uniform=(dist.uniform[0] / factor, dist.uniform[1] / factor))
    if dist.lognormal is not None:
        median = dist.lognormal["median"] / factor
        return Distribution(lognormal={**dist.lognormal, "median": median})
    if dist.pareto is not None:
        p = dist.pareto
        return Distribution(
            pareto={**p, "minimum": p["minimum"] / factor, "cap": p["cap"] / factor}
        )
    return Distribution(fixed=(dist.fixed or 0) / factor)


def scaled(scenario: Scenario, agents: int, days: int) -> Scenario:
    """`agents` agents in the scenario's proportions sharing the same VVV (genesis is finite),
    for `days` days."""
    factor = agents / scenario.agent_count
    groups = []
    for g in scenario.agents:
        wealth = shrink(g.wealth, factor) if g.kind in ("staker", "diem_minter") else g.wealth
        groups.append(
            g.model_copy(update={"count": max(1, round(g.count * factor)), "wealth": wealth})
        )
    return scenario.with_overrides(agents=groups, days=days)


def monte_carlo(
    scenario: Scenario,
    config: DeployConfig,
    runs: int,
    workers: int,
    client: Client | None = None,
) -> tuple[str, ...]:
    """The Monte Carlo row: `runs` seeds of `scenario` on the model over a Dask LocalCluster of
    `workers` processes (or on `client`), with their bands; runs per second with the cluster's
    start and without it."""
    started = time.perf_counter()
    with nullcontext(client) if client is not None else cluster(workers) as dask:
        up = time.perf_counter()
        results = run_seeds(scenario, config, runs, dask)
        spread = bands(results)
    done = time.perf_counter()
    seconds, running = done - started, done - up
    failed = sum(1 for r in results if r.error)
    if failed == runs or not spread:
        raise RuntimeError(f"Monte Carlo: every run failed: {results[0].error}")
    return (
        f"model, Monte Carlo on Dask ({workers} workers)",
        f"{runs} x {scenario.agent_count} x {scenario.days}",
        f"{sum(r.transactions for r in results):,}" + (f" ({failed} failed)" if failed else ""),
        f"{seconds:.1f} ({up - started:.1f} cluster start)",
        f"{runs / seconds:,.2f} runs/s ({runs / running:,.2f} without the start)",
        "",
    )


@click.command(cls=ConnectedProviderCommand)
@click.option("--model-agents", default=10_000, show_default=True)
@click.option("--model-days", default=365, show_default=True)
@click.option("--skip-chain", is_flag=True, help="Only the model backend.")
@click.option("--mc-runs", default=100, show_default=True, help="Monte Carlo runs (0: none).")
@click.option("--workers", default=2, show_default=True, help="Dask LocalCluster workers.")
@click.option("--chain-agents", default=40, show_default=True)
@click.option("--chain-days", default=20, show_default=True)
@click.option("--chain-repeats", default=3, show_default=True)
def cli(
    model_agents: int,
    model_days: int,
    skip_chain: bool,
    mc_runs: int,
    workers: int,
    chain_agents: int,
    chain_days: int,
    chain_repeats: int,
) -> None:
    """Time both simulator backends and print the figures and their ratio."""
    logger.set_level("WARNING")
    config = load_config()
    base = load_scenario("bench")
    big = scaled(base, model_agents, model_days)
    table = Table(title="Simulator benchmark (wall clock; shared machine)")
    for column in ("run", "agents x days", "transactions", "seconds", "tx/s", "target"):
        table.add_column(column, justify="left" if column == "run" else "right")

    started = time.perf_counter()
    model_big = execute_model(big, config, progress=True, console=console)
    total = time.perf_counter() - started
    table.add_row(
        "model, at scale",
        f"{big.agent_count:,} x {big.days}",
        f"{model_big.run.backend.transactions:,}",
        f"{total:.1f}",
        f"{model_big.tx_per_second:,.0f}",
        "<= 60 s",
    )
    model_small = execute_model(base, config, progress=False)
    small_model = execute_model(scaled(base, chain_agents, chain_days), config, progress=False)
    table.add_row(
        "model, bench scenario",
        f"{base.agent_count} x {base.days}",
        f"{model_small.run.backend.transactions:,}",
        f"{model_small.elapsed:.2f}",
        f"{model_small.tx_per_second:,.0f}",
        "",
    )
    if mc_runs:
        table.add_row(*monte_carlo(load_scenario("showcase"), config, mc_runs, workers))
    if not skip_chain:
        small = scaled(base, chain_agents, chain_days)
        speeds = chain_speeds(small, config, chain_repeats)
        for kind, label in (("chain", "chain (Anvil, web3)"), ("revm", "revm (in-process)")):
            rates = speeds[kind]
            table.add_row(
                f"{label}, {chain_repeats} runs",
                f"{small.agent_count} x {small.days}",
                f"{speeds[kind + ' tx']:,}",
                f"{median(speeds[kind + ' s']):.2f}",
                f"{median(rates):,.0f} (median)",
                ">= 10x chain" if kind == "revm" else "",
            )
        console.print(table)
        ratio = median(speeds["revm"]) / median(speeds["chain"])
        console.print(
            f"revm/chain speed ratio on the same scenario: {ratio:,.1f}x in transactions per "
            f"second (medians of {chain_repeats}; every run's rows equal on both: "
            f"{'yes' if speeds['same'] else 'NO'})"
        )
        console.print(
            f"model/chain speed ratio: {median(speeds['chain s']) / small_model.elapsed:,.0f}x "
            f"(model {small_model.elapsed:.3f} s on the same {small.agent_count} x {small.days})"
        )
        console.print(
            "(Setup, deploying and funding, is on Anvil for both and not timed. Both agreeing "
            "with the model to the wei is tests/sim/test_equivalence.py's job.)"
        )
    else:
        console.print(table)


def chain_speeds(scenario: Scenario, config: Any, repeats: int) -> dict[str, Any]:
    """`repeats` runs of `scenario` on each node backend, each on a fresh deployment:
    transactions per second and seconds per run, the run's transactions, and whether
    every run's daily rows were equal."""
    speeds: dict[str, Any] = {"chain": [], "revm": [], "chain s": [], "revm s": []}
    rows: list[Any] = []
    for _ in range(repeats):
        for kind in ("chain", "revm"):
            backend = chain_backend(config, accounts.test_accounts[0], scenario=scenario, kind=kind)
            result = execute(scenario, backend, config, progress=False)
            speeds[kind].append(result.tx_per_second)
            speeds[kind + " s"].append(result.elapsed)
            speeds[kind + " tx"] = result.run.backend.transactions
            rows.append(result.run.rows)
    speeds["same"] = all(r == rows[0] for r in rows)
    return speeds
