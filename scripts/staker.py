"""Stake VVV and manage the stake: `ape run staker <subcommand> [--network ...] [--account ...]`.

    ape run staker stake 100.5                  # approve if needed, stake for yourself
    ape run staker stake 50 --for 0xABC...      # stake for someone else
    ape run staker unstake 20                   # start the 7-day cooldown
    ape run staker unstake 5 --yes              # add to a running cooldown, restarting it
    ape run staker finalize                     # withdraw once the cooldown is over
    ape run staker claim                        # rewards to your wallet
    ape run staker compound                     # rewards restaked
    ape run staker status [ADDRESS]             # the position

Contract addresses come from `deployments/<chain_id>.json` (`ape run deploy` writes it). On a
local development chain the default account is test account 0; elsewhere pass `--account`.
The checks and messages live in `venice_ops/commands/staker.py`.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape.api import AccountAPI

from venice_ops.commands import common, staker
from venice_ops.deploy.suite import load_suite


@click.group(cls=common.CommandGroup)
def cli() -> None:
    """Stake VVV for sVVV, unstake, claim rewards and read a position."""


@cli.command(**common.AMOUNT_COMMAND)
@click.argument("amount")
@click.option("--for", "recipient", metavar="ADDRESS", help="Stake for this address.")
@common.common_options()
def stake(amount: str, recipient: str | None, account: AccountAPI | None, deployments: Path):
    """Stake AMOUNT VVV, like 100.5; approves exactly AMOUNT if the allowance is short."""
    wei = common.parse_amount(amount)
    suite = load_suite(deployments)
    common.done(staker.stake(suite, common.resolve_signer(account), wei, recipient))


@cli.command(**common.AMOUNT_COMMAND)
@click.argument("amount")
@click.option(
    "--yes",
    "restart",
    is_flag=True,
    help="With VVV already cooling down: add to it and restart the timer for all of it.",
)
@common.common_options()
def unstake(amount: str, restart: bool, account: AccountAPI | None, deployments: Path):
    """Start unstaking AMOUNT sVVV: it cools down, then `finalize` pays it out. With VVV
    already cooling down it refuses (the timer would restart for all of it) unless --yes."""
    wei = common.parse_amount(amount)
    suite = load_suite(deployments)
    common.done(
        staker.unstake(suite, common.resolve_signer(account), wei, restart_cooldown=restart)
    )


common.signer_command(cli, "finalize", staker.finalize, "Withdraw the VVV whose cooldown is over.")
common.signer_command(cli, "claim", staker.claim, "Claim the staking rewards to the wallet.")
common.signer_command(
    cli, "compound", staker.compound, "Claim the staking rewards and stake them in one transaction."
)
common.status_command(
    cli,
    staker.read_status,
    staker.status_rows,
    "Show the position of ADDRESS (default: the account).",
)
