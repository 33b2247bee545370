"""The command tests' fixtures: `manifests` (the suite's manifest in a temporary folder);
`invoke` runs a script's click command in-process, on the test
session's Anvil (tests/support/cli.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.support.cli import run_command
from venice_ops.deploy.suite import write_manifest


@pytest.fixture
def invoke() -> Callable[..., Result]:
    return run_command


@pytest.fixture
def manifests(suite, config, tmp_path) -> Path:
    """The session suite's manifest, written to this test's temporary folder."""
    write_manifest(suite, config, tmp_path)
    return tmp_path
