"""Shared fixtures: named accounts and the whole suite deployed through the deploy script's
own code path (`scripts._lib.deploy.deploy_suite`) on a real Anvil."""

from __future__ import annotations

import pytest

from scripts._lib.config import load_config
from scripts._lib.deploy import Suite, deploy_suite

VVV = 10**18


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def oracle(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def carol(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def suite(owner, treasury, oracle, config) -> Suite:
    return deploy_suite(owner, config, {"treasury": treasury.address, "oracle": oracle.address})


@pytest.fixture(scope="session")
def vvv(suite):
    return suite.vvv


@pytest.fixture(scope="session")
def controller(suite):
    return suite.controller


@pytest.fixture(scope="session")
def staking(suite):
    return suite.staking


@pytest.fixture(scope="session")
def fund(vvv, staking, owner):
    """Give an account VVV from the deployer's genesis share and approve the staking contract."""

    def _fund(account, amount: int) -> None:
        vvv.transfer(account, amount, sender=owner)
        vvv.approve(staking, 2**256 - 1, sender=account)

    return _fund
