"""Merkle second preimage: an internal node of the airdrop tree cannot be claimed as a leaf.

With leaves hashed once, keccak256(abi.encode(account, amount)), a tree whose internal node is
the hash of two 32-byte children reading as (account, amount) lets that account claim `amount`
by presenting the node as its leaf and the node's sibling path as its proof. The distributor
hashes leaves twice (OpenZeppelin StandardMerkleTree), so a leaf's preimage is 32 bytes and can
never be a node's 64. The same property of the Python tree builder (OpenZeppelin-compatible) is
tested in tests/unit/airdrop/test_airdrop_tree.py::test_verify__intermediate_node_is_not_a_leaf.
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from tests.support.constants import VVV
from venice_ops.deploy.suite import deploy_airdrop


@pytest.mark.parametrize("stake", [False, True], ids=["to_the_wallet", "into_stake"])
def test_claim__an_intermediate_node_does_not_pass_for_a_leaf(
    owner, vvv, staking, config, alice, stake
):
    """A tree whose internal node N hashes the 64 bytes abi.encode(alice, amount): with
    single-hashed leaves alice could claim `amount` by presenting N as her leaf. The leaf is
    hashed twice, so she cannot; the real leaf beside N still claims."""
    amount = 2**255 + 5  # its word sorts after alice's (12 leading zero bytes)
    preimage = encode(["address", "uint256"], [alice.address, amount])
    node = keccak(preimage)  # = keccak(word(alice) ++ word(amount)), a sorted pair
    real_leaf = keccak(keccak(encode(["address", "uint256"], [alice.address, 10 * VVV])))
    root = keccak(b"".join(sorted([node, real_leaf])))
    airdrop = deploy_airdrop(owner, vvv, staking, "0x" + root.hex(), 10 * VVV, config)
    with ape.reverts("airdrop: invalid proof"):
        airdrop.claim(amount, ["0x" + real_leaf.hex()], stake, sender=alice)
    airdrop.claim(10 * VVV, ["0x" + node.hex()], stake, sender=alice)
    received = staking.balanceOf(alice) if stake else vvv.balanceOf(alice)
    assert received == 10 * VVV
    assert vvv.balanceOf(airdrop) == 0
