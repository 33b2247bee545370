"""Running the scripts' click commands in-process, on the test session's Anvil."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import pytest
from ape import chain
from click.testing import CliRunner, Result


@pytest.fixture
def invoke() -> Callable[..., Result]:
    def _invoke(command: click.Command, manifests: Path, *args: str) -> Result:
        # Handed the connected provider, ape's ConnectedProviderCommand uses this session's
        # Anvil instead of starting another one.
        result = CliRunner(mix_stderr=False).invoke(
            command, [*args, "--deployments", str(manifests)], obj={"provider": chain.provider}
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return _invoke
