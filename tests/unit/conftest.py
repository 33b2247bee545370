"""Unit-test fixtures: the accounts that deploy fresh contracts inside tests, and the
controller's genesis checkpoint. Block-time control (`at`, `mine_at`, `warp`, `now`, `t0`) and
`storage_roots` are shared with the attack tests: tests/support/fixtures.py."""

from __future__ import annotations

import pytest

from tests.support.fixtures import account

# Fresh contracts deployed inside tests come from one account per contract type. Isolation
# rewinds nonces, so a later test's deployment can land on an address an earlier (reverted) test
# used; ape caches contract types by address, and a different type there would be used to decode
# the later deployment.
vvv_deployer = account(7, "Deploys the fresh VVV contracts of unit tests.")
controller_deployer = account(8, "Deploys the fresh emissions controllers of unit tests.")
staking_deployer = account(9, "Deploys the fresh staking contracts of unit tests.")


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
