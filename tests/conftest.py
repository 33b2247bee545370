"""Shared fixtures: named accounts and the whole suite deployed through the deploy script's
own code path (`venice_ops.deploy.suite.deploy_suite`) on a real Anvil."""

from __future__ import annotations

import pytest

from tests.support.chain import bind_fast
from tests.support.constants import VVV
from tests.support.fixtures import account, deployed
from tests.support.machines import MachineContext
from tests.support.reports import GAS_REPORT
from venice_ops.bridge import system_model
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import Suite, deploy_suite

# Fixtures shared by the unit and attack tests, the hypothesis profiles ("ci", "deep") and the
# contracts' statement coverage (`ape test --contract-coverage MIN`).
pytest_plugins = ["tests.support.fixtures", "tests.support.profiles", "tests.support.coverage"]


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(GAS_REPORT, None)
    if lines:
        terminalreporter.section("gas against gas-snapshot.json")
        for line in lines:
            terminalreporter.write_line(line)


owner = account(0, "The deployer (and owner of every contract).")
treasury = account(1)
oracle = account(2)
alice = account(3)
bob = account(4)
carol = account(5)
attacker = account(6)


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def suite(owner, treasury, oracle, config) -> Suite:
    return deploy_suite(owner, config, {"treasury": treasury.address, "oracle": oracle.address})


vvv = deployed("vvv")
controller = deployed("controller")
staking = deployed("staking")
diem = deployed("diem")
curve = deployed("curve")
usdc = deployed("usdc")
router = deployed("router")
pair = deployed("pair")
burner = deployed("burner")
subscriptions = deployed("subscriptions")


@pytest.fixture(scope="session")
def keeper(owner):
    """The buyback keeper: the deploy config's default, the deployer."""
    return owner


@pytest.fixture(scope="session")
def fund_usdc(usdc, owner):
    """Mint test USDC to an account and approve a spender."""

    def _fund(account, amount: int, spender=None) -> None:
        usdc.mint(account, amount, sender=owner)
        if spender is not None:
            usdc.approve(spender, 2**256 - 1, sender=account)

    return _fund


@pytest.fixture(scope="session")
def fund(vvv, staking, owner):
    """Give an account VVV from the deployer's genesis share and approve the staking contract."""

    def _fund(account, amount: int) -> None:
        vvv.transfer(account, amount, sender=owner)
        vvv.approve(staking, 2**256 - 1, sender=account)

    return _fund


@pytest.fixture
def machine_context(suite, chain, owner, oracle, treasury, accounts, config) -> MachineContext:
    """Four funded stakers and a model of the suite as deployed, for the state machines."""
    vvv, controller, staking = suite.vvv, suite.controller, suite.staking
    stakers = [accounts[i] for i in (3, 4, 5, 7)]
    for a in stakers:
        vvv.transfer(a, 1_000_000 * VVV, sender=owner)
        vvv.approve(staking, 2**256 - 1, sender=a)
    head = chain.blocks.head.timestamp
    holders = [owner, oracle, treasury, *stakers]
    model = system_model(
        config,
        now=controller.lastCheckpoint(),
        # The VVV/USDC pool holds the deploy's liquidity seed.
        genesis={
            **{a.address: vvv.balanceOf(a) for a in holders},
            suite.pair.address: vvv.balanceOf(suite.pair),
        },
        treasury=treasury.address,
        annual_rate=controller.annualRate(),
    )
    # Genesis as seen now (after funding); staking's accumulator starts at its last accrual.
    assert vvv.totalSupply() == model.genesis
    model.staking.last_update = staking.lastAccrual()
    assert head >= model.staking.last_update
    return MachineContext(
        chain=chain,
        vvv=bind_fast(vvv),
        controller=bind_fast(controller),
        staking=bind_fast(staking),
        diem=bind_fast(suite.diem),
        curve=bind_fast(suite.curve),
        owner=owner,
        oracle=oracle,
        treasury=treasury,
        stakers=stakers,
        pool=suite.pair.address,
        model=model,
    )


@pytest.fixture
def diem_context(machine_context, suite) -> MachineContext:
    """`machine_context` with the stakers' DIEM approved to the staking contract (burns)."""
    for a in machine_context.stakers:
        suite.diem.approve(suite.staking, 2**256 - 1, sender=a)
    return machine_context
