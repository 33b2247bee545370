"""Write the ABIs `venice_sdk` ships: `ape run export_abis` (after changing a contract)."""

from __future__ import annotations

import click

from venice_ops.deploy.abis import export


@click.command()
def cli() -> None:
    """Write venice_sdk/abi/<Name>.json from the compiled contracts."""
    for path in export():
        click.echo(f"wrote {path}")
