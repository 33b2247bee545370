"""Subscriptions: `ape run subscribe <subcommand> [--network ...] [--account ...]`.

    ape run subscribe pay pro 3                  # 3 x 30 days of Pro, approving the USDC
    ape run subscribe pay max 1 --for 0xABC...   # a gift
    ape run subscribe tiers                      # prices and the USD each period burns
    ape run subscribe status [ADDRESS]           # Pro, and why (stake or subscription)

Pay in USDC; the burn part of each payment goes to the buyback-burner, the rest to the
treasury. Checks and messages live in `venice_ops/commands/value.py`.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.api import AccountAPI
from rich.table import Table

from venice_ops.commands import common, value
from venice_ops.deploy.suite import load_suite


@click.group(cls=common.CommandGroup)
def cli() -> None:
    """Subscribe to a tier (or gift one) and read who is Pro."""


@cli.command(cls=common.NodeCommand)
@click.argument("tier")
@click.argument("periods", type=int, default=1)
@click.option("--for", "recipient", metavar="ADDRESS", help="Gift it to this address.")
@common.common_options()
def pay(
    tier: str, periods: int, recipient: str | None, account: AccountAPI | None, deployments: Path
):
    """Pay for PERIODS x 30 days (default 1) of TIER: pro, pro+ or max."""
    suite = load_suite(deployments)
    index = value.parse_tier(suite, tier)
    outcome = value.subscribe(suite, common.resolve_signer(account), index, periods, recipient)
    common.console.print(outcome.message)


@cli.command(cls=common.NodeCommand)
@common.common_options(account=False)
def tiers(deployments: Path):
    """The tiers on offer: price per 30 days and the part that buys VVV to burn."""
    suite = load_suite(deployments)
    table = Table("tier", "name", "price / 30 days", "burned / 30 days", box=None)
    names = {i: n for n, i in value.TIER_NAMES.items()}
    for index in range(4):
        price, burn = suite.subscriptions.tiers(index)
        if price:
            table.add_row(str(index), names.get(index, "-"), value.usd(price), value.usd(burn))
    common.console.print(table)


common.status_command(
    cli,
    value.pro_status,
    value.pro_rows,
    "Whether ADDRESS (default: the account) is Pro, and why.",
)
