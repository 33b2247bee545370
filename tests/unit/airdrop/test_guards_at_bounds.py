"""AirdropDistributor's guards at their edges (docs/testing.md): the claim window to
the second on both sides, the zero amount, and the claimed bitmap, whose neighbouring leaves
share one 256-bit word: a claim must set its own bit and keep every other bit of the word."""

from __future__ import annotations

import random

import ape
import pytest
from ape import project
from eth_utils import to_checksum_address

from venice_ops.deploy.airdrop_tree import AirdropTree, claim_key
from venice_ops.deploy.suite import deploy_airdrop

VVV = 10**18


@pytest.fixture(scope="module")
def tree(alice, bob, carol):
    rng = random.Random(18)
    others = [
        (to_checksum_address(rng.randbytes(20)), rng.randint(1, 10_000) * VVV) for _ in range(60)
    ]
    return AirdropTree(
        [(alice.address, 1_000 * VVV), (bob.address, 250 * VVV), (carol.address, 1), *others]
    )


@pytest.fixture(scope="module")
def airdrop(owner, vvv, staking, tree, config):
    return deploy_airdrop(owner, vvv, staking, tree.root, tree.total, config)


def leaf(tree, account) -> tuple[int, list[str]]:
    return tree.amount(account.address), tree.proof(account.address)


def claimed(airdrop, tree, account) -> bool:
    return airdrop.isClaimed(account, *leaf(tree, account))


# ------------------------------------------------------------------ the claimed bitmap


def test_bitmap__a_neighbours_claim_keeps_every_earlier_claim_and_unclaimed_bit(
    airdrop, vvv, tree, alice, bob, carol
):
    """alice, bob and carol's leaves sit in the same word of the bitmap. alice claims, then
    bob: alice's bit must survive bob's write (a claim that overwrote the word would let
    alice claim twice), and carol's bit must stay clear (her claim still goes through)."""
    keys = {a.address: claim_key(a.address, *leaf(tree, a)) for a in (alice, bob, carol)}
    assert len({k >> 8 for k in keys.values()}) == 1, "the three leaves must share one word"
    assert len({k & 255 for k in keys.values()}) == 3

    airdrop.claim(*leaf(tree, alice), False, sender=alice)
    carol_before = vvv.balanceOf(carol)
    airdrop.claim(*leaf(tree, bob), True, sender=bob)
    assert claimed(airdrop, tree, alice) and claimed(airdrop, tree, bob)
    assert not claimed(airdrop, tree, carol)
    assert vvv.balanceOf(carol) == carol_before  # the bystander: nothing moved for carol
    with ape.reverts("airdrop: already claimed"):
        airdrop.claim(*leaf(tree, alice), False, sender=alice)

    held = vvv.balanceOf(airdrop)
    airdrop.claim(*leaf(tree, carol), False, sender=carol)
    assert vvv.balanceOf(airdrop) == held - 1
    for account in (alice, bob, carol):
        assert claimed(airdrop, tree, account)
        with ape.reverts("airdrop: already claimed"):
            airdrop.claim(*leaf(tree, account), False, sender=account)


def test_bitmap__claims_in_any_order_each_leaves_the_others_recorded(
    chain, airdrop, tree, alice, bob, carol
):
    """Every order of the three neighbours: after each claim, exactly the leaves claimed so
    far are recorded."""
    people = (alice, bob, carol)
    for order in ((0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)):
        snapshot = chain.snapshot()
        done: list = []
        for i in order:
            airdrop.claim(*leaf(tree, people[i]), False, sender=people[i])
            done.append(people[i])
            assert [claimed(airdrop, tree, a) for a in people] == [a in done for a in people]
        chain.restore(snapshot)


# ------------------------------------------------------------------ the claim window


def test_window__last_second_claims_the_next_refuses_and_only_then_burns(
    airdrop, vvv, tree, alice, bob, attacker, at
):
    """At DEADLINE a claim is accepted and the burn refused; one second later bob's claim
    (a valid, unclaimed leaf, so only the window stands in its way) is refused and the burn
    takes exactly what is left, bob's leaf included."""
    deadline = airdrop.DEADLINE()
    at(deadline)
    with ape.reverts("airdrop: claim window open"):
        airdrop.burnUnclaimed(sender=attacker)
    at(deadline)
    airdrop.claim(*leaf(tree, alice), False, sender=alice)
    assert vvv.balanceOf(alice) == 1_000 * VVV

    at(deadline + 1)
    with ape.reverts("airdrop: claim window closed"):
        airdrop.claim(*leaf(tree, bob), False, sender=bob)
    assert not claimed(airdrop, tree, bob)
    left = tree.total - 1_000 * VVV
    supply = vvv.totalSupply()
    at(deadline + 1)
    assert airdrop.burnUnclaimed(sender=attacker).return_value == left
    assert vvv.totalSupply() == supply - left
    assert vvv.balanceOf(alice) == 1_000 * VVV  # the earlier claimer keeps what she claimed


def test_claim__a_one_wei_leaf_is_paid_a_zero_amount_refused(airdrop, vvv, tree, carol):
    amount, proof = leaf(tree, carol)
    assert amount == 1
    with ape.reverts("airdrop: zero amount"):
        airdrop.claim(0, proof, False, sender=carol)
    assert not claimed(airdrop, tree, carol)
    airdrop.claim(1, proof, False, sender=carol)
    assert vvv.balanceOf(carol) == 1


def test_deploy__deadline_one_second_ahead_accepted_this_second_refused(
    owner, vvv, staking, tree, at, chain
):
    t = chain.pending_timestamp + 100
    at(t)
    with ape.reverts("airdrop: deadline passed"):
        project.AirdropDistributor.deploy(vvv, staking, tree.root, t, sender=owner)
    at(t)
    fresh = project.AirdropDistributor.deploy(vvv, staking, tree.root, t + 1, sender=owner)
    assert fresh.DEADLINE() == t + 1
