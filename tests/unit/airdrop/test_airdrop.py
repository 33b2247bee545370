"""AirdropDistributor with trees built by `venice_ops.deploy.airdrop_tree` (OpenZeppelin
StandardMerkleTree compatible): claims by proof within the window, each leaf once, straight into
sVVV on request, and after the deadline the remainder burned exactly.
Every refused claim leaves no trace."""

from __future__ import annotations

import random

import ape
import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.constants import VVV
from venice_ops.deploy.airdrop_tree import AirdropTree
from venice_ops.deploy.suite import deploy_airdrop


def filler(n: int, seed: int = 7) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [
        (to_checksum_address(rng.randbytes(20)), rng.randint(1, 10_000) * VVV) for _ in range(n)
    ]


@pytest.fixture(scope="module")
def tree(alice, bob, carol):
    return AirdropTree(
        [(alice.address, 1_000 * VVV), (bob.address, 250 * VVV), (carol.address, 1), *filler(60)]
    )


@pytest.fixture(scope="module")
def airdrop(owner, vvv, staking, tree, config):
    return deploy_airdrop(owner, vvv, staking, tree.root, tree.total, config)


def test_deploy__funded_with_the_tree_total_and_a_45_day_window(airdrop, vvv, tree, chain):
    assert vvv.balanceOf(airdrop) == tree.total
    assert airdrop.MERKLE_ROOT() == bytes.fromhex(tree.root[2:])
    assert airdrop.DEADLINE() - chain.blocks.head.timestamp == pytest.approx(45 * 86_400, abs=30)


def test_claim__pays_the_leaf_once(airdrop, vvv, tree, alice):
    proof = tree.proof(alice.address)
    assert not airdrop.isClaimed(alice, 1_000 * VVV, proof)
    receipt = airdrop.claim(1_000 * VVV, proof, False, sender=alice)
    assert vvv.balanceOf(alice) == 1_000 * VVV
    assert vvv.balanceOf(airdrop) == tree.total - 1_000 * VVV
    assert airdrop.isClaimed(alice, 1_000 * VVV, proof)
    [event] = receipt.events.filter(airdrop.Claimed)
    assert (event.account, event.amount, event.staked) == (alice.address, 1_000 * VVV, False)
    with ape.reverts("airdrop: already claimed"):
        airdrop.claim(1_000 * VVV, proof, False, sender=alice)
    with ape.reverts("airdrop: already claimed"):
        airdrop.claim(1_000 * VVV, proof, True, sender=alice)


def test_claim__straight_into_svvv(airdrop, vvv, staking, tree, bob):
    staked = staking.totalStaked()
    airdrop.claim(250 * VVV, tree.proof(bob.address), True, sender=bob)
    assert vvv.balanceOf(bob) == 0
    assert staking.balanceOf(bob) == 250 * VVV
    assert staking.totalStaked() == staked + 250 * VVV
    assert vvv.balanceOf(airdrop) == tree.total - 250 * VVV


def test_claim__neighbouring_leaves_do_not_block_each_other(airdrop, tree, alice, bob, carol):
    # All three share the bitmap's words with others; each claims exactly its own leaf.
    for account, amount in ((alice, 1_000 * VVV), (bob, 250 * VVV), (carol, 1)):
        airdrop.claim(amount, tree.proof(account.address), False, sender=account)
        assert airdrop.isClaimed(account, amount, tree.proof(account.address))


@pytest.mark.parametrize("case", ["wrong_amount", "wrong_proof", "someone_elses", "empty_proof"])
def test_claim__bad_claims_refused_with_no_state_change(case, airdrop, vvv, tree, alice, attacker):
    amount, proof, sender = 1_000 * VVV, tree.proof(alice.address), alice
    if case == "wrong_amount":
        amount += 1
    elif case == "wrong_proof":
        proof = [proof[0], *tree.proof(tree.entries[5][0])[1:]]
    elif case == "someone_elses":
        sender = attacker  # alice's leaf and proof, sent by another account
    elif case == "empty_proof":
        proof = []
    before = (vvv.balanceOf(airdrop), vvv.balanceOf(sender))
    with ape.reverts("airdrop: invalid proof"):
        airdrop.claim(amount, proof, False, sender=sender)
    assert (vvv.balanceOf(airdrop), vvv.balanceOf(sender)) == before


def test_claim__zero_amount_refused(airdrop, alice, tree):
    with ape.reverts("airdrop: zero amount"):
        airdrop.claim(0, tree.proof(alice.address), False, sender=alice)


def test_window__claims_close_and_the_remainder_burns_exactly(
    chain, airdrop, vvv, tree, alice, bob, carol, attacker
):
    airdrop.claim(1_000 * VVV, tree.proof(alice.address), False, sender=alice)
    with ape.reverts("airdrop: claim window open"):
        airdrop.burnUnclaimed(sender=attacker)
    chain.pending_timestamp = airdrop.DEADLINE()
    airdrop.claim(250 * VVV, tree.proof(bob.address), False, sender=bob)  # the last second
    chain.pending_timestamp = airdrop.DEADLINE() + 1
    with ape.reverts("airdrop: claim window closed"):
        airdrop.claim(1, tree.proof(tree.entries[2][0]), False, sender=carol)
    supply = vvv.totalSupply()
    left = tree.total - 1_250 * VVV
    receipt = airdrop.burnUnclaimed(sender=attacker)
    assert receipt.return_value == left
    assert vvv.totalSupply() == supply - left
    assert vvv.balanceOf(airdrop) == 0
    assert receipt.events.filter(airdrop.UnclaimedBurned)[0].amount == left
    with ape.reverts("airdrop: nothing to burn"):
        airdrop.burnUnclaimed(sender=attacker)


def test_deploy__refuses_bad_arguments(owner, vvv, staking, chain):
    from ape import project

    root = "0x" + "11" * 32
    now = chain.pending_timestamp
    for args, reason in (
        ((vvv, staking, "0x" + "00" * 32, now + 100), "airdrop: zero root"),
        ((vvv, staking, root, now - 1), "airdrop: deadline passed"),
        (("0x" + "00" * 20, staking, root, now + 100), "airdrop: zero address"),
    ):
        with ape.reverts(reason):
            project.AirdropDistributor.deploy(*args, sender=owner)


@settings(max_examples=12)
@given(data=st.data())
def test_claim_orderings__claimed_never_exceeds_the_tree_and_the_rest_burns_exactly(
    data, chain, owner, vvv, staking, config, accounts
):
    """Any subset of the leaves claimed in any order, plain or staked, some after the deadline:
    what was paid out never exceeds the tree's total and the burn takes exactly the rest."""
    claimers = [accounts[i] for i in (3, 4, 5, 7, 8, 9)]
    amounts = data.draw(st.lists(st.integers(1, 10**24), min_size=6, max_size=6))
    tree = AirdropTree([(a.address, x) for a, x in zip(claimers, amounts, strict=True)])
    snapshot = chain.snapshot()
    try:
        airdrop = deploy_airdrop(owner, vvv, staking, tree.root, tree.total, config)
        supply = vvv.totalSupply()
        order = data.draw(st.permutations(range(6)))
        paid = 0
        for i in order:
            action = data.draw(st.sampled_from(["claim", "stake", "skip", "twice", "late"]))
            account, amount = claimers[i], amounts[i]
            proof = tree.proof(account.address)
            if action == "skip":
                continue
            if action == "late":
                chain.pending_timestamp = max(chain.pending_timestamp, airdrop.DEADLINE() + 1)
                with ape.reverts("airdrop: claim window closed"):
                    airdrop.claim(amount, proof, False, sender=account)
                continue
            if chain.pending_timestamp > airdrop.DEADLINE():
                continue
            airdrop.claim(amount, proof, action == "stake", sender=account)
            paid += amount
            if action == "twice":
                with ape.reverts("airdrop: already claimed"):
                    airdrop.claim(amount, proof, False, sender=account)
            assert paid <= tree.total
            assert vvv.balanceOf(airdrop) == tree.total - paid
        chain.pending_timestamp = max(chain.pending_timestamp, airdrop.DEADLINE() + 1)
        if paid < tree.total:
            assert airdrop.burnUnclaimed(sender=owner).return_value == tree.total - paid
        assert vvv.balanceOf(airdrop) == 0
        assert vvv.totalSupply() == supply - (tree.total - paid)
    finally:
        chain.restore(snapshot)
