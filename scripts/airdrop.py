"""The airdrop: `ape run airdrop <subcommand>`.

    ape run airdrop build allocations.csv --out airdrop.json   # root + every proof
    ape run airdrop deploy airdrop.json [--window 3888000]     # distributor, funded
    ape run airdrop deploy oz-dump.json                        # OpenZeppelin's standard-v1
    ape run airdrop deploy airdrop.json --force                # after a chain reset
    ape run airdrop claim airdrop.json [--stake]               # claim (into sVVV)
    ape run airdrop burn                                       # after the deadline
    ape run airdrop status [ADDRESS] [--tree airdrop.json]

`build` reads `address,amount` rows (whole VVV; a header row, blank lines and # comments
allowed) and refuses bad addresses, zero amounts and duplicates with the line number. The
JSON holds the root, each claimant's amount and proof, and OpenZeppelin's StandardMerkleTree
dump, so OZ's JavaScript library loads the same tree.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape import chain
from ape.api import AccountAPI

from venice_ops.commands import value
from venice_ops.commands.common import (
    CommandGroup,
    NodeCommand,
    UserError,
    common_options,
    console,
    format_time,
    parse_address,
    print_rows,
    resolve_signer,
)
from venice_ops.deploy.airdrop_tree import AirdropInputError, AirdropTree, read_csv
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import deploy_airdrop, load_suite, record_in_manifest
from venice_ops.deploy.verify import write_verification

FILE = click.Path(dir_okay=False, path_type=Path)


@click.group(cls=CommandGroup)
def cli() -> None:
    """Build an airdrop tree, deploy it, claim, and burn what is left."""


@cli.command()
@click.argument("csv_path", metavar="CSV", type=FILE)
@click.option("--out", type=FILE, default=Path("airdrop.json"), show_default=True)
@common_options(account=False, deployments=False)
def build(csv_path: Path, out: Path):
    """Build the tree of CSV (address,amount) and write the root and every proof to --out."""
    if not csv_path.is_file():
        raise UserError(f"{csv_path} does not exist")
    try:
        tree = AirdropTree(read_csv(csv_path))
    except AirdropInputError as exc:
        raise UserError(f"{csv_path}: {exc}") from None
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(tree.to_json(), indent=1) + "\n")
    tmp.replace(out)
    console.print(
        f"{len(tree):,} claims, {value.vvv(tree.total)} in total; root {tree.root}; "
        f"written to {out}"
    )


@cli.command(cls=NodeCommand)
@click.argument("tree_path", metavar="FILE", type=FILE)
@click.option("--window", type=int, default=None, help="Seconds to claim (default: config).")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the manifest's AirdropDistributor entry even if it is stale (a reset chain).",
)
@common_options()
def deploy(
    tree_path: Path,
    window: int | None,
    force: bool,
    account: AccountAPI | None,
    deployments: Path,
):
    """Deploy a distributor for FILE (ours or OpenZeppelin's standard-v1 dump), fund it from
    the account and record it."""
    tree = value.load_tree(tree_path)
    suite = load_suite(deployments, ignore=("AirdropDistributor",) if force else ())
    config = load_config()
    if window is not None:
        if not 3_600 <= window <= 365 * 86_400:
            raise UserError(f"bad --window {window}: give 3600 to 31536000 seconds")
        from dataclasses import replace

        config = replace(config, airdrop_window=window)
    deployer = resolve_signer(account)
    airdrop = deploy_airdrop(deployer, suite.vvv, suite.staking, tree.root, tree.total, config)
    record_in_manifest("AirdropDistributor", airdrop, deployments)
    write_verification({"AirdropDistributor": airdrop}, deployments)
    console.print(
        f"AirdropDistributor at {airdrop.address}, holding {value.vvv(tree.total)}; claims close "
        f"{format_time(int(airdrop.DEADLINE()))}."
    )


@cli.command(cls=NodeCommand)
@click.argument("tree_path", metavar="FILE", type=FILE)
@click.option("--stake", is_flag=True, help="Receive sVVV (staked) instead of VVV.")
@common_options()
def claim(tree_path: Path, stake: bool, account: AccountAPI | None, deployments: Path):
    """Claim the account's allocation in FILE."""
    tree = value.load_tree(tree_path)
    suite = load_suite(deployments)
    outcome = value.claim_airdrop(suite, resolve_signer(account), tree, stake)
    console.print(outcome.message)


@cli.command(cls=NodeCommand)
@common_options()
def burn(account: AccountAPI | None, deployments: Path):
    """After the deadline, burn what was not claimed (anyone may)."""
    outcome = value.burn_unclaimed(load_suite(deployments), resolve_signer(account))
    console.print(outcome.message)


@cli.command(cls=NodeCommand)
@click.argument("address", required=False)
@click.option("--tree", "tree_path", type=FILE, help="The airdrop file, to show a claim.")
@common_options()
def status(
    address: str | None, tree_path: Path | None, account: AccountAPI | None, deployments: Path
):
    """The airdrop's window and balance, and ADDRESS's claim: its allocation and whether it is
    claimed with --tree, what it claimed (from the chain's Claimed events) without."""
    suite = load_suite(deployments)
    airdrop = value.airdrop_contract(suite)
    deadline = int(airdrop.DEADLINE())
    rows = [
        ("distributor", str(airdrop.address)),
        ("unclaimed", value.vvv(int(suite.vvv.balanceOf(airdrop)))),
        (
            "window",
            f"{'open' if chain.pending_timestamp <= deadline else 'closed'}, "
            f"ends {format_time(deadline)}",
        ),
    ]
    if tree_path is not None or address is not None:
        who = parse_address(address) if address else str(resolve_signer(account).address)
        # The address as a value, not a label: a label column is cut to fit the width.
        rows.append(("account", who))
        if tree_path is not None:
            tree = value.load_tree(tree_path)
            if who in tree:
                amount, proof = tree.amount(who), tree.proof(who)
                done = airdrop.isClaimed(who, amount, proof)
                rows.append(
                    ("allocation", f"{value.vvv(amount)}, {'claimed' if done else 'not claimed'}")
                )
            else:
                rows.append(("allocation", "none"))
        else:
            rows.append(("claimed", value.claimed_text(suite, who)))
    print_rows(rows)
