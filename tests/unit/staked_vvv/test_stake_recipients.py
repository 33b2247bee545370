"""StakedVVV.stake refuses recipients that could never unstake or claim (the staking contract
itself, VVV and DIEM), and amounts that would carry a stake or the total past 2**128, each with
its reason (never a bare revert), leaving every contract's storage as it was.

`claimAndStake` and the airdrop's claim into stake stake for their caller only (msg.sender of
the staking contract, or of the airdrop), which none of those contracts can be; they keep
working for an ordinary account (below, and tests/unit/airdrop/).
"""

from __future__ import annotations

import pytest

from tests.support.chain import refused_changing_nothing
from tests.support.constants import MAX_UINT, VVV

MASK_128 = 2**128 - 1
STAKE = 1_000 * VVV


@pytest.fixture
def staked(fund, staking, alice, bob):
    """alice holds 1M VVV and has staked 1_000 for herself; bob has staked 1_000."""
    fund(alice, 1_000_000 * VVV)
    fund(bob, 10_000 * VVV)
    staking.stake(alice, STAKE, sender=alice)
    staking.stake(bob, STAKE, sender=bob)


@pytest.mark.parametrize("name", ["staking", "vvv", "diem"])
def test_stake__for_a_contract_that_cannot_unstake__bad_recipient(
    request, staked, staking, vvv, alice, bob, name, storage_roots
):
    recipient = request.getfixturevalue(name)
    refused_changing_nothing(
        storage_roots, "sVVV: bad recipient", lambda: staking.stake(recipient, STAKE, sender=alice)
    )
    assert staking.balanceOf(recipient) == 0
    assert staking.totalStaked() == 2 * STAKE
    assert vvv.balanceOf(alice) == 1_000_000 * VVV - STAKE


def test_stake__ordinary_recipients_still_staked_for(staked, staking, alice, bob, carol):
    """A gift to a new staker (first stake) and a repeat stake both go through."""
    staking.stake(carol, STAKE, sender=alice)
    staking.stake(bob, STAKE, sender=alice)
    assert staking.balanceOf(carol) == STAKE
    assert staking.balanceOf(bob) == 2 * STAKE
    assert staking.balanceOf(alice) == STAKE
    assert staking.totalStaked() == 4 * STAKE


def test_claimAndStake__stakes_for_the_caller(staked, staking, alice, bob, warp):
    warp(3_600)
    pending = staking.pendingRewards(alice)
    staking.claimAndStake(sender=alice)
    assert staking.balanceOf(alice) >= STAKE + pending
    assert staking.balanceOf(bob) == STAKE


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        # Past 2**256 when added to alice's stake: a bare overflow before this change.
        (MAX_UINT, "sVVV: stake overflow"),
        (MAX_UINT - STAKE + 1, "sVVV: stake overflow"),
        (MASK_128 - STAKE + 1, "sVVV: stake overflow"),
    ],
    ids=["max-uint", "wraps-to-zero", "one-past-2**128"],
)
def test_stake__stake_past_2_128__stake_overflow(
    staked, staking, alice, amount, reason, storage_roots
):
    refused_changing_nothing(
        storage_roots, reason, lambda: staking.stake(alice, amount, sender=alice)
    )


def test_stake__total_past_2_128__total_overflow(staked, staking, alice, carol, storage_roots):
    """carol's own stake stays within 2**128, the total would not: the check comes before the
    VVV is pulled, so no balance that large is needed to reach it."""
    refused_changing_nothing(
        storage_roots,
        "sVVV: total overflow",
        lambda: staking.stake(carol, MASK_128 - STAKE, sender=alice),
    )
    assert staking.balanceOf(carol) == 0
