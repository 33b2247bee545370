"""Deploy the suite and record it: `ape run deploy [--config PATH] [--force] [--account ALIAS]`.

    ape run deploy                                        # a throw-away Anvil, test account 0
    ape run deploy --network ethereum:local:node          # the Anvil you started, on :8545
    ape run deploy --network http://127.0.0.1:8599        # any node by its URI (or
                                                          # ethereum:local:http://127.0.0.1:8599)
    ape run deploy --network ethereum:sepolia:node --account deployer --config config/x.yaml

Writes `deployments/<chain_id>.json`, which every other script reads addresses from, and
`deployments/<chain_id>/verify/`, what a block explorer needs to verify each contract. It
refuses to replace the manifest of a deployment still live on the chain unless `--force`.
Local or live is decided by the chain (`venice_ops/deploy/network.py`): chain id 31337/1337
or a loopback node is local, a public chain id is live whatever the URI; a live deploy needs
`governance.timelock: true`.
"""

from __future__ import annotations

from pathlib import Path

import click
from ape import chain
from ape.api import AccountAPI
from rich.table import Table

from venice_ops.commands.common import (
    NodeCommand,
    common_options,
    console,
    resolve_signer,
)
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import check_manifest_replaceable, deploy_suite, write_manifest
from venice_ops.deploy.verify import write_verification
from venice_ops.paths import PROJECT_ROOT


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


@click.command(cls=NodeCommand)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Deploy config (default: config/default.yaml).",
)
@click.option("--force", is_flag=True, help="Replace a manifest whose deployment is still live.")
@common_options()
def cli(config_path: Path | None, force: bool, account: AccountAPI | None, deployments: Path):
    """Deploy VVV, the controller, sVVV, the mint curve and DIEM, wire them, write the manifest."""
    config = load_config(config_path)
    deployer = resolve_signer(account)
    check_manifest_replaceable(deployments.resolve(), force)
    suite = deploy_suite(deployer, config)
    # Forced: the check above ran before deploying. After it, a manifest left by an earlier
    # run on a since-restarted dev chain looks live, since the same deployer at the same
    # nonces lands on the same addresses.
    path = write_manifest(suite, config, deployments.resolve(), force=True)
    sources = write_verification(suite.contracts(), deployments.resolve())

    network = chain.provider.network
    console.print(
        f"Deployed on [bold]{network.ecosystem.name}:{network.name}[/] "
        f"(chain {chain.chain_id}, block {suite.block}) by {deployer.address}"
    )
    contracts = Table("contract", "address", box=None, pad_edge=False)
    for name, contract in suite.contracts().items():
        contracts.add_row(name, str(contract.address))
    console.print(contracts)
    roles = Table("role", "address", box=None, pad_edge=False)
    for role, address in suite.roles.items():
        roles.add_row(role, address)
    console.print(roles)
    if suite.governance:
        g = suite.governance
        console.print(
            f"Governance: the Timelock owns every owned contract; changes wait "
            f"{g['min_delay']:,} s; proposers {', '.join(g['proposers'])}; "
            f"executors {', '.join(g['executors'])}"
        )
    console.print(f"Manifest: {_shown(path)}")
    console.print(f"Source verification inputs: {_shown(sources)} (see docs/deploy.md)")
    if getattr(chain.provider, "process", None) is not None:
        console.print(
            "Note: this Anvil was started for this command and stops with it, and the deployment "
            "with it. To keep one, run `node_modules/.bin/anvil` in another terminal and deploy "
            "with --network ethereum:local:node"
        )
