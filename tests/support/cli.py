"""Running the scripts' click commands in-process, on the test session's Anvil (the command
tests and the governance test)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import click
from ape import chain
from click.testing import CliRunner, Result


def run_command(command: click.Command, manifests: Path, *args: str) -> Result:
    """Run a script's command in-process with `--deployments manifests`."""
    # Handed the connected provider, ape's ConnectedProviderCommand uses this session's
    # Anvil instead of starting another one.
    result = CliRunner(mix_stderr=False).invoke(
        command, [*args, "--deployments", str(manifests)], obj={"provider": chain.provider}
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def node_ready(uri: str) -> bool:
    """Whether a JSON-RPC node answers `eth_chainId` at `uri` (for tests that start one)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        uri, body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bool(json.load(response).get("result"))
    except OSError:
        return False
