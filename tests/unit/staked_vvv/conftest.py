"""The staking tests' fixtures: the stakers' emission rate and three funded stakers."""

from __future__ import annotations

import pytest

from tests.support.constants import VVV
from tests.support.emissions import staker_per_second


@pytest.fixture
def rate(config):
    """Stakers' wei per second under the default config and no report."""
    return staker_per_second(config.annual_rate, config.stale_staker_bps)


@pytest.fixture
def funded(fund, alice, bob, carol):
    """alice, bob and carol each hold 1,000,000 VVV approved to the staking contract."""
    for account in (alice, bob, carol):
        fund(account, 1_000_000 * VVV)
