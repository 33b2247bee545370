"""Test tokens on a local chain: `ape run faucet <usdc|vvv> AMOUNT [--to ADDRESS]`.

    ape run faucet usdc 1000                    # 1,000 test USDC to test account 0
    ape run faucet usdc 1000 --to 0xABC...      # ... to another address
    ape run faucet vvv 1000 --to 0xABC...       # 1,000 VVV from the deployer's genesis share
    ape run faucet vvv 50 --account TEST::3     # ... to test account 3

The deployer signs (the manifest names it; on a development chain it is a test account).
Refused on a live network. The checks and messages live in `venice_ops/commands/faucet.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from ape.api import AccountAPI

from venice_ops.commands import faucet
from venice_ops.commands.common import (
    AMOUNT_COMMAND,
    CommandGroup,
    Outcome,
    UserError,
    common_options,
    console,
    parse_amount,
    parse_usdc,
)
from venice_ops.deploy.suite import load_suite

TO = click.option("--to", metavar="ADDRESS", help="Recipient (default: the --account).")


@click.group(cls=CommandGroup)
def cli() -> None:
    """Test USDC and VVV on a local chain, for trying the commands."""


def _give_command(command: Callable[..., None]) -> click.Command:
    """`usdc` and `vvv`: an AMOUNT, --to and the common options."""
    decorated = common_options()(command)
    decorated = click.argument("amount")(TO(decorated))
    return cli.command(**AMOUNT_COMMAND)(decorated)


def _give(
    give: Callable[..., Outcome],
    amount: int,
    to: str | None,
    account: AccountAPI | None,
    deployments: Path,
) -> None:
    """Refuse off a local chain, then ``give`` ``amount`` from the deployer to --to."""
    faucet.check_local()
    suite = load_suite(deployments)
    source = faucet.deployer_of(suite, account)
    console.print(give(suite, source, amount, faucet.recipient_of(to, account)).message)


@_give_command
def usdc(amount: str, to: str | None, account: AccountAPI | None, deployments: Path):
    """Mint AMOUNT test USDC (like 1000 or 12.5) to --to (default: the --account)."""
    units = parse_usdc(amount)
    if units == 0:
        raise UserError(f"bad amount: '{amount}' is zero; give a positive amount like 1000")
    _give(faucet.give_usdc, units, to, account, deployments)


@_give_command
def vvv(amount: str, to: str | None, account: AccountAPI | None, deployments: Path):
    """Send AMOUNT VVV from the deployer's genesis share to --to (default: the --account)."""
    wei = parse_amount(amount)
    _give(faucet.give_vvv, wei, to, account, deployments)
