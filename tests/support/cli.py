"""Running the scripts' click commands in-process, on the test session's Anvil (the command
tests and the governance test)."""

from __future__ import annotations

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
