"""The buyback keeper: `ape run keeper [--threshold 1000] [--slippage-bps 100] [--dry-run]`.

One round: record a price observation when one is due (so the TWAP stays fresh), and when
the buyback-burner holds at least --threshold USDC, buy VVV with it (up to the contract's
per-call cap) at no less than the TWAP amount less --slippage-bps, and burn it.

Safe from cron (e.g. every 15 minutes):

    */15 * * * *  cd /srv/venice && ape run keeper --network base:mainnet:node --account keeper

- Idempotent: it decides from chain state alone; a second run buys only what is left.
- One at a time: a lock file per chain stops overlapping runs (the second exits 0).
- Exit code 0 when it bought, had nothing to do, was waiting for the TWAP, or the price guard
  said no (a moved pool is not a failure); 1 only on a real failure (no keeper role, the RPC
  node down, a transaction that reverted), with one `error:` line.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import click
from ape import chain
from ape.api import AccountAPI

from venice_ops.commands import value
from venice_ops.commands.common import (
    NodeCommand,
    common_options,
    console,
    parse_usdc,
    resolve_signer,
)
from venice_ops.deploy.suite import load_suite


@click.command(cls=NodeCommand)
@click.option(
    "--threshold",
    default="1000",
    show_default=True,
    help="Buy back only when the burner holds at least this much USDC.",
)
@click.option(
    "--slippage-bps",
    default=100,
    show_default=True,
    help="Minimum out: the TWAP amount less this (at most the contract's bound).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be done; send nothing.")
@common_options()
def cli(
    threshold: str,
    slippage_bps: int,
    dry_run: bool,
    account: AccountAPI | None,
    deployments: Path,
):
    """Keep the TWAP fresh and buy back and burn VVV when revenue passes the threshold."""
    minimum = parse_usdc(threshold, "threshold")
    suite = load_suite(deployments)
    keeper = resolve_signer(account)
    deployments.mkdir(parents=True, exist_ok=True)
    lock_path = deployments / f".keeper-{chain.chain_id}.lock"
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print(f"Another keeper run holds {lock_path}; exiting.")
            return
        outcome = value.run_keeper(suite, keeper, minimum, slippage_bps, dry_run)
    console.print(outcome.message)
