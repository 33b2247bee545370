"""Mint, burn and stake DIEM: `ape run diem <subcommand> [--network ...] [--account ...]`.

    ape run diem quote 1000                     # DIEM minted for locking 1,000 sVVV now
    ape run diem quote 10 --diem                # sVVV locked to mint exactly 10 DIEM
    ape run diem mint 1000                      # lock 1,000 sVVV, at most 0.5% fewer DIEM
    ape run diem mint 10 --diem --slippage 1    # exactly 10 DIEM, at most 1% more sVVV
    ape run diem burn 5                         # burn 5 DIEM, release part of the lock
    ape run diem stake 10                       # staked DIEM: $1 of API credit per day each
    ape run diem unstake 4                      # start the 1-day cooldown
    ape run diem finalize                       # back to the wallet after the cooldown
    ape run diem status [ADDRESS]               # the position and the mint curve

Quotes come from the contracts (`getDiemAmountOut`, `getSVVVAmountIn`). Contract addresses
come from `deployments/<chain_id>.json` (`ape run deploy` writes it). On a local development
chain the default account is test account 0; elsewhere pass `--account`. The checks and
messages live in `venice_ops/commands/diem.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from ape.api import AccountAPI

from venice_ops.commands import common, diem
from venice_ops.deploy.suite import load_suite


@click.group(cls=common.CommandGroup)
def cli() -> None:
    """Mint DIEM by locking sVVV, burn it to unlock, stake it for daily API credit."""


def _diem_flag() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--diem",
        "exact_diem",
        is_flag=True,
        help="AMOUNT is DIEM (exact output) instead of sVVV to lock.",
    )


@cli.command(**common.AMOUNT_COMMAND)
@click.argument("amount")
@_diem_flag()
@common.common_options(account=False)
def quote(amount: str, exact_diem: bool, deployments: Path):
    """DIEM minted for locking AMOUNT sVVV now (or, with --diem, sVVV locked for AMOUNT DIEM)."""
    wei = common.parse_amount(amount)
    suite = load_suite(deployments)
    result = diem.quote_diem(suite, wei) if exact_diem else diem.quote_svvv(suite, wei)
    common.console.print(result.message)


@cli.command(**common.AMOUNT_COMMAND)
@click.argument("amount")
@_diem_flag()
@click.option(
    "--slippage",
    metavar="PCT",
    default="0.5",
    show_default=True,
    help="How far the price may move before the mint is sent back, in percent.",
)
@common.common_options()
def mint(
    amount: str,
    exact_diem: bool,
    slippage: str,
    account: AccountAPI | None,
    deployments: Path,
):
    """Lock AMOUNT sVVV for DIEM (or, with --diem, mint exactly AMOUNT DIEM)."""
    wei = common.parse_amount(amount)
    bps = common.parse_slippage(slippage)
    suite = load_suite(deployments)
    signer = common.resolve_signer(account)
    if exact_diem:
        common.done(diem.mint_exact(suite, signer, wei, bps))
    else:
        common.done(diem.mint(suite, signer, wei, bps))


common.amount_command(
    cli,
    "burn",
    diem.burn,
    "Burn AMOUNT of the DIEM you minted, releasing its share of your locked sVVV.",
)
common.amount_command(
    cli, "stake", diem.stake, "Stake AMOUNT DIEM: each staked DIEM is $1 of API credit per day."
)
common.amount_command(
    cli,
    "unstake",
    diem.unstake,
    "Start unstaking AMOUNT DIEM: it cools down for a day, then `finalize` returns it.",
)
common.signer_command(
    cli, "finalize", diem.finalize, "Return the DIEM whose cooldown is over to the wallet."
)
common.status_command(
    cli,
    diem.read_status,
    diem.status_rows,
    "Show the DIEM position of ADDRESS (default: the account) and the mint curve.",
)
