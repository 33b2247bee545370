"""Fixtures shared by the unit and attack tests (a pytest plugin: tests/conftest.py lists it in
`pytest_plugins`): exact control of block time, the storage roots of the suite's contracts, and
a cache of the dev accounts' derivation (session-wide: it changes no behaviour, see below).

Time on Anvil: `at(T)` fixes the timestamp of the next transaction; `mine_at(T)` mines an
empty block at T so that views (which read the latest block) are evaluated at T.
"""

from __future__ import annotations

import functools
from typing import Any

import ape_test.accounts
import pytest

from tests.support.chain import storage_root


def account(index: int, doc: str = "") -> Any:
    """A session fixture (bind it to a name in a conftest): the test account at ``index``."""

    def fixture(accounts):
        return accounts[index]

    fixture.__doc__ = doc or f"Test account {index}."
    return pytest.fixture(scope="session")(fixture)


def deployed(name: str) -> Any:
    """A session fixture (bind it to a name in a conftest): the suite's contract ``name``."""

    def fixture(suite):
        return getattr(suite, name)

    fixture.__doc__ = f"The suite's {name} contract, as deployed by the deploy script."
    return pytest.fixture(scope="session")(fixture)


@pytest.fixture(scope="session", autouse=True)
def _cache_dev_account_derivation():
    """Speed only: on every expected revert ape re-derives the test accounts from the
    mnemonic in pure Python (BIP-32, ~0.15 s). The derivation is a pure function of its
    arguments, so memoising it changes no behaviour."""
    original = ape_test.accounts.generate_dev_accounts
    ape_test.accounts.generate_dev_accounts = functools.lru_cache(maxsize=None)(original)
    yield
    ape_test.accounts.generate_dev_accounts = original


@pytest.fixture
def now(chain):
    """Timestamp of the latest mined block."""

    def _now() -> int:
        return chain.blocks.head.timestamp

    return _now


@pytest.fixture
def at(chain):
    """Fix the timestamp of the next transaction (or mined block) to exactly `t`."""

    def _at(t: int) -> None:
        chain.pending_timestamp = t

    return _at


@pytest.fixture
def mine_at(chain):
    """Mine an empty block at exactly `t`, so that views read the chain at `t`."""

    def _mine_at(t: int) -> None:
        chain.mine(timestamp=t)

    return _mine_at


@pytest.fixture
def warp(chain):
    """Mine a block `seconds` after the pending timestamp."""

    def _warp(seconds: int) -> None:
        chain.mine(timestamp=chain.pending_timestamp + seconds)

    return _warp


@pytest.fixture
def t0(chain):
    """A round start time safely after everything the fixtures did."""
    return chain.blocks.head.timestamp + 1_000


@pytest.fixture(scope="session")
def storage_roots(vvv, controller, staking, diem, curve, usdc, pair, burner, subscriptions):
    """Storage roots (eth_getProof) of the suite's contracts and its pool: equal roots mean
    every stored value (balances, allowances, config, accumulators, locks, DIEM stakes, the
    mint curve, revenue, price observations, tiers and expiries) is unchanged."""
    contracts = (
        ("vvv", vvv),
        ("controller", controller),
        ("staking", staking),
        ("diem", diem),
        ("curve", curve),
        ("usdc", usdc),
        ("pair", pair),
        ("burner", burner),
        ("subscriptions", subscriptions),
    )

    def _roots() -> dict[str, bytes]:
        return {name: storage_root(contract.address) for name, contract in contracts}

    return _roots
