"""Unit-test helpers: exact control of block time, and the constants of the default config.

Time on Anvil: `at(T)` fixes the timestamp of the next transaction; `mine_at(T)` mines an
empty block at T so that views (which read the latest block) are evaluated at T.
"""

from __future__ import annotations

import functools
import itertools

import ape_test.accounts
import pytest

from tests.support.chain import storage_root

VVV = 10**18
BPS = 10_000
YEAR = 31_536_000
PRECISION = 10**36
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="session", autouse=True)
def _cache_dev_account_derivation():
    """Speed only: on every expected revert ape re-derives the test accounts from the
    mnemonic in pure Python (BIP-32, ~0.15 s). The derivation is a pure function of its
    arguments, so memoising it changes no behaviour."""
    original = ape_test.accounts.generate_dev_accounts
    ape_test.accounts.generate_dev_accounts = functools.lru_cache(maxsize=None)(original)
    yield
    ape_test.accounts.generate_dev_accounts = original


@pytest.fixture(scope="session")
def vvv_deployer(accounts):
    """Fresh contracts deployed inside tests come from one account per contract type.
    Isolation rewinds nonces, so a later test's deployment can land on an address an
    earlier (reverted) test used; ape caches contract types by address, and a different
    type there would be used to decode the later deployment."""
    return accounts[7]


@pytest.fixture(scope="session")
def controller_deployer(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def staking_deployer(accounts):
    return accounts[9]


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
def genesis_checkpoint(chain, controller):
    """Timestamp of the block that deployed the controller (its first checkpoint),
    read from the chain's receipts, not from the controller."""
    web3 = chain.provider.web3
    for number in range(chain.blocks.head.number + 1):
        block = web3.eth.get_block(number, full_transactions=False)
        for txn in block["transactions"]:
            receipt = web3.eth.get_transaction_receipt(txn)
            if receipt["contractAddress"] == controller.address:
                return block["timestamp"]
    raise AssertionError("controller deployment not found")


def per_second(annual: int) -> int:
    """The controller's stream: annual // 31_536_000 wei per second."""
    return annual // YEAR


def staker_per_second(annual: int, staker_bps: int) -> int:
    return per_second(annual) * staker_bps // BPS


def integrate(segments: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """(total, stakers') emissions over segments of (start, end, annual, staker_bps)."""
    total = staker = 0
    for start, end, annual, bps in segments:
        assert end >= start
        total += (end - start) * per_second(annual)
        staker += (end - start) * staker_per_second(annual, bps)
    return total, staker


def curve_at(points: list[tuple[int, int]], u: int) -> int:
    """Piecewise-linear interpolation of a split curve, rounded down."""
    for (ua, sa), (ub, sb) in itertools.pairwise(points):
        if ua <= u <= ub:
            return (sa * (ub - u) + sb * (u - ua)) // (ub - ua)
    raise AssertionError(f"utilization {u} outside the curve")


def contract_events(receipt, contract) -> list[tuple[str, dict]]:
    """(event name, args) of the logs `contract` emitted in `receipt`, in order."""
    return [
        (log.event_name, dict(log.event_arguments))
        for log in receipt.events
        if log.contract_address == contract.address
    ]


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
