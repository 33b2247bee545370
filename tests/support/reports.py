"""Keys of what the tests leave in pytest's stash for tests/conftest.py: the gas table
(tests/integration/test_gas.py) and the contract coverage collector and its report, printed
at the end of the run."""

from __future__ import annotations

import pytest

GAS_REPORT = pytest.StashKey[list[str]]()
CONTRACT_COVERAGE = pytest.StashKey[tuple]()
CONTRACT_COVERAGE_REPORT = pytest.StashKey[list[str]]()
