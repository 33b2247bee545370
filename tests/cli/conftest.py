"""The command tests' fixture: `invoke` runs a script's click command in-process, on the test
session's Anvil (tests/support/cli.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from tests.support.cli import run_command


@pytest.fixture
def invoke() -> Callable[..., Result]:
    return run_command
