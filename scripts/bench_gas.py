"""Gas benchmark: receipt gas per operation on Anvil, beside the anchors and targets.

    ape run bench_gas [--runs 5] [--stakers 1000]
    ape run bench_gas --update-snapshot

Every figure is the median over --runs runs. The stake and claim figures are measured twice,
with 1 and with --stakers prior stakers, to show they do not depend on the number of stakers.

--update-snapshot measures every figure as the test command does (the snapshot settings in
venice_ops/bench/gas.py) and rewrites gas-snapshot.json, which the test command holds each figure
to within 2%; commit the file with the change that moved the gas.
"""

from __future__ import annotations

import click
from ape import chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from venice_ops.bench.gas import (
    SNAPSHOT_CLAIMS,
    SNAPSHOT_PATH,
    SNAPSHOT_RUNS,
    SNAPSHOT_VALUE_RUNS,
    TARGETS,
    TRANSFER_FLOOR,
    VALUE_EXTRAS,
    VALUE_TARGETS,
    compare_with_snapshot,
    fresh_suite,
    measure,
    measure_value_capture,
    read_snapshot,
    snapshot_report,
    write_snapshot,
)

console = Console(width=120)


def _update_snapshot() -> None:
    """Measure as the test command does and rewrite the snapshot, showing what moved."""
    with console.status("measuring at the snapshot settings..."):
        snapshot = chain.snapshot()
        figures = measure(prior_stakers=1, runs=SNAPSHOT_RUNS)
        chain.restore(snapshot)
        figures |= measure_value_capture(
            fresh_suite(), runs=SNAPSHOT_VALUE_RUNS, claims=SNAPSHOT_CLAIMS
        )
    old = read_snapshot()
    for line in snapshot_report(compare_with_snapshot(figures, old), []):
        click.echo(line)
    for name in sorted(set(old) - set(figures)):
        console.print(f"dropped: {name} (no longer measured)")
    write_snapshot(figures)
    console.print(f"wrote {SNAPSHOT_PATH.name} ({len(figures)} operations)")


@click.command(cls=ConnectedProviderCommand)
@click.option("--runs", default=5, show_default=True, help="Runs per operation (median).")
@click.option("--stakers", default=1_000, show_default=True, help="Size of the large pool.")
@click.option(
    "--update-snapshot",
    is_flag=True,
    help="Measure as the test command does and rewrite gas-snapshot.json.",
)
def cli(runs: int, stakers: int, update_snapshot: bool) -> None:
    """Print receipt gas per operation with ratios to the anchors and targets."""
    logger.set_level("WARNING")
    if update_snapshot:
        _update_snapshot()
        return
    snapshot = chain.snapshot()
    small = measure(prior_stakers=1, runs=runs)
    chain.restore(snapshot)
    with console.status(f"staking for {stakers:,} prior stakers..."):
        large = measure(prior_stakers=stakers, runs=runs)

    table = Table(title=f"Receipt gas on Anvil (median of {runs})")
    for column in (
        "operation",
        "gas",
        "vs floor",
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
            f"{gas / TRANSFER_FLOOR:.3f}",
            f"{gas_large:,}",
            f"{target.target:,}",
            f"{target.anchor:,} ({target.anchor_name})",
            f"{gas / target.anchor:.3f}",
            "yes" if ok else "[red]NO[/red]",
        )
    console.print(table)
    console.print(
        "ok = at or under the target, and the same gas with 1 and with "
        f"{stakers:,} prior stakers (O(1) per action). floor = an ERC-20 transfer to an "
        f"existing holder, {TRANSFER_FLOOR:,} gas."
    )

    with console.status("building a 40,000-leaf airdrop and claiming from it..."):
        value = measure_value_capture(fresh_suite(), runs=runs)
    table = Table(title=f"Value capture: receipt gas on Anvil (median of {runs})")
    for column in ("operation", "gas", "vs floor", "target", "vs target", "ok"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for name, target in VALUE_TARGETS.items():
        gas = value[name]
        ok = gas <= target.target
        failures += not ok
        table.add_row(
            name,
            f"{gas:,}",
            f"{gas / TRANSFER_FLOOR:.3f}",
            f"{target.target:,} ({target.anchor_name})",
            f"{gas / target.target:.3f}",
            "yes" if ok else "[red]NO[/red]",
        )
    for name in VALUE_EXTRAS:
        gas = value[name]
        table.add_row(name, f"{gas:,}", f"{gas / TRANSFER_FLOOR:.3f}", "-", "-", "-")
    console.print(table)
    if failures:
        raise click.ClickException(f"{failures} operation(s) over target or not O(1)")
