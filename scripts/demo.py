"""The main job: deploy the whole suite on a local Anvil and run the showcase scenario on it.

    ape run demo

ape-foundry starts Anvil and stops it at the end. The suite is deployed through the deploy
script's own code path (and its manifest written); then `scenarios/showcase.yaml` runs on the
chain backend: every agent action is a real transaction (stakes, claims, sells on the Uniswap V2
pool, DIEM mints and stakes, DIEM traded for USDC, subscriptions, airdrop claims and the
unclaimed burn, keeper buybacks that burn VVV, governance changes). Then an inference server's
view: `venice_sdk` reads an API user's entitlement from the chain and debits a request against
its daily credit. The daily CSV and the charts are written under `sim-out/`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from rich.console import Console
from rich.table import Table

from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import write_manifest
from venice_ops.sim.outputs import print_summary
from venice_ops.sim.runner import OUT, chain_backend, execute
from venice_ops.sim.scenario import load_scenario
from venice_sdk.units import format_units

console = Console(width=120)


@click.command(cls=ConnectedProviderCommand)
@click.option(
    "--config", "config_path", default=None, help="Deploy config (default: config/default.yaml)."
)
@click.option("--scenario", "scenario_name", default="showcase", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=OUT, show_default=True)
def cli(config_path: str | None, scenario_name: str, out: Path) -> None:
    """Deploy the suite on a local Anvil, run a scenario on it, check an API user with the SDK."""
    config = load_config(config_path)
    scenario = load_scenario(scenario_name)
    logger.set_level("WARNING")  # the progress bar and the tables say what happens
    console.rule("[bold]Venice token suite: the showcase on a local Anvil")
    backend = chain_backend(config, accounts.test_accounts[0], scenario=scenario)
    suite = backend.suite
    manifest = write_manifest(suite, config, force=True)
    deployed = Table(title=f"Deployed on chain {chain.chain_id} (manifest {manifest})")
    deployed.add_column("contract")
    deployed.add_column("address")
    for name, contract in suite.contracts().items():
        deployed.add_row(name, str(contract.address))
    console.print(deployed)
    console.print(f"[bold]{scenario.name}[/bold]: {' '.join(scenario.description.split())}")

    result = execute(scenario, backend, config, out=out, console=console)
    print_summary(result.run, result.elapsed, console)
    sdk_check(result.run, manifest, str(chain.provider.http_uri))  # type: ignore[attr-defined]
    console.print(
        f"{result.run.backend.transactions:,} transactions at {result.tx_per_second:,.0f}/s. Files:"
    )
    for path in result.files:
        console.print(f"  {path}")


def sdk_check(run, manifest: Path, rpc_url: str) -> None:  # type: ignore[no-untyped-def]
    """What an inference server does per request, against what the run left on chain."""
    from venice_sdk.entitlements import EntitlementClient
    from venice_sdk.gate import Gatekeeper
    from venice_sdk.ledger import SQLiteLedger
    from venice_sdk.pricing import PriceBook

    users = [a for a in run.agents if a.kind == "api_user" and a.diem_staked]
    if not users:
        console.print("No API user holds staked DIEM: nothing for the SDK to check.")
        return
    user = max(users, key=lambda a: a.diem_staked)
    client = EntitlementClient.from_manifest(manifest, rpc_url)
    entitlement = client.get(user.address)
    now = chain.blocks.head.timestamp
    with tempfile.TemporaryDirectory() as tmp:
        ledger = SQLiteLedger(Path(tmp) / "credit.sqlite", clock=lambda: float(now))
        gate = Gatekeeper(client, ledger, PriceBook.default())
        model = "llama-3.3-70b"
        first = gate.authorize(user.address, model, input_tokens=2_000_000, output_tokens=500_000)
        table = Table(title=f"venice_sdk: API user {user.address} as an inference server sees it")
        table.add_column("")
        table.add_column("value", justify="right")
        table.add_row("DIEM staked", format_units(entitlement.diem_staked, 18, 2))
        table.add_row("credit today", f"${format_units(entitlement.daily_credit, 6, 2)}")
        table.add_row("Pro", entitlement.pro_reason or "no")
        table.add_row(
            f"request: {model}, 2M in + 0.5M out",
            f"{'allowed' if first.allowed else 'refused'} ({first.reason}), "
            f"cost ${format_units(first.cost, 6, 4)}",
        )
        table.add_row("spent today", f"${format_units(first.spent, 6, 4)}")
        table.add_row("remaining today", f"${format_units(first.remaining, 6, 4)}")
        console.print(table)
