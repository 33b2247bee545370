"""Gas benchmark: receipt gas per operation on Anvil, beside the anchors and targets.

    ape run bench_gas [--runs 5] [--stakers 1000]

Every figure is the median over --runs runs. The stake and claim figures are measured twice,
with 1 and with --stakers prior stakers, to show they do not depend on the number of stakers.
"""

from __future__ import annotations

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from scripts._lib.config import load_config
from scripts._lib.deploy import deploy_suite
from scripts._lib.gas import TARGETS, VALUE_EXTRAS, VALUE_TARGETS, measure, measure_value_capture

console = Console(width=120)


@click.command(cls=ConnectedProviderCommand)
@click.option("--runs", default=5, show_default=True, help="Runs per operation (median).")
@click.option("--stakers", default=1_000, show_default=True, help="Size of the large pool.")
def cli(runs: int, stakers: int) -> None:
    """Print receipt gas per operation with ratios to the anchors and targets."""
    logger.set_level("WARNING")
    snapshot = chain.snapshot()
    small = measure(prior_stakers=1, runs=runs)
    chain.restore(snapshot)
    with console.status(f"staking for {stakers:,} prior stakers..."):
        large = measure(prior_stakers=stakers, runs=runs)

    table = Table(title=f"Receipt gas on Anvil (median of {runs})")
    for column in (
        "operation",
        "gas",
        f"gas, {stakers:,} stakers",
        "target",
        "anchor",
        "vs anchor",
        "ok",
    ):
        table.add_column(column, justify="left" if column == "operation" else "right")
    failures = 0
    for name, target in TARGETS.items():
        gas, gas_large = small[name], large[name]
        ok = gas <= target.target and gas_large == gas
        failures += not ok
        table.add_row(
            name,
            f"{gas:,}",
            f"{gas_large:,}",
            f"{target.target:,}",
            f"{target.anchor:,} ({target.anchor_name})",
            f"{gas / target.anchor:.3f}",
            "yes" if ok else "[red]NO[/red]",
        )
    console.print(table)
    console.print(
        "ok = at or under the target, and the same gas with 1 and with "
        f"{stakers:,} prior stakers (O(1) per action)."
    )

    with console.status("building a 40,000-leaf airdrop and claiming from it..."):
        suite = deploy_suite(
            accounts.test_accounts[0], load_config(), {"treasury": "test:1", "oracle": "test:2"}
        )
        value = measure_value_capture(suite, runs=runs)
    table = Table(title=f"Value capture: receipt gas on Anvil (median of {runs})")
    for column in ("operation", "gas", "target", "vs target", "ok"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for name, target in VALUE_TARGETS.items():
        gas = value[name]
        ok = gas <= target.target
        failures += not ok
        table.add_row(
            name,
            f"{gas:,}",
            f"{target.target:,} ({target.anchor_name})",
            f"{gas / target.target:.3f}",
            "yes" if ok else "[red]NO[/red]",
        )
    for name in VALUE_EXTRAS:
        table.add_row(name, f"{value[name]:,}", "-", "-", "-")
    console.print(table)
    if failures:
        raise click.ClickException(f"{failures} operation(s) over target or not O(1)")
