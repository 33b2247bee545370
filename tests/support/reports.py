"""The key under which tests/integration/test_gas.py leaves the gas table in pytest's stash,
for tests/conftest.py to print at the end of the run (the contract coverage plugin,
tests/support/coverage.py, keeps its own keys)."""

from __future__ import annotations

import pytest

GAS_REPORT = pytest.StashKey[list[str]]()
